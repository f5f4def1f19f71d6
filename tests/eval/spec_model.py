# A from-spec Python model of BLEU / chrF / TER (docs METRICS.md), written
# independently of lib/eval for cross-checking moe-eval; not run by CTest (it needs
# the `regex` module for the intl tokenizer, and one with the Unicode 15.0 tables that
# METRICS.md prescribes, e.g. Debian 12's python3-regex: a newer regex knows code
# points that 15.0 leaves unassigned and reports false mismatches on them). The
# tokenizers are written as the
# regular-expression substitutions METRICS.md describes, so they also check the
# C++ pair-scanning rules against Python's own `re` semantics.
#
#   python3 tests/eval/spec_model.py HYP REF [REF...]    # prints one score per setting
#
# Compare with the same settings from moe-eval (-b -w 6), see docs/eval.md.
import math, re, sys
try:
    import regex  # only the intl tokenizer needs it
except ImportError:
    regex = None

def rs(s): return s.rstrip()

R13 = [(re.compile(r'([\{-\~\[-\` -\&\(-\+\:-\@\/])'), r' \1 '), (re.compile(r'([^0-9])([\.,])'), r'\1 \2 '),
       (re.compile(r'([\.,])([^0-9])'), r' \1 \2'), (re.compile(r'([0-9])(-)'), r'\1 \2 ')]
def mteval(line):
    for r, p in R13: line = r.sub(p, line)
    return line
def tok13a(line):
    line = line.replace('<skipped>', '').replace('-\n', '').replace('\n', ' ')
    if '&' in line:
        line = line.replace('&quot;', '"').replace('&amp;', '&').replace('&lt;', '<').replace('&gt;', '>')
    return ' '.join(mteval(' ' + line + ' ').split())
RI = [(regex.compile(r'(\P{N})(\p{P})'), r'\1 \2 '), (regex.compile(r'(\p{P})(\P{N})'), r' \1 \2'), (regex.compile(r'(\p{S})'), r' \1 ')] if regex else []
def tokintl(line):
    for r, p in RI: line = r.sub(p, line)
    return ' '.join(line.split())
ZH = [(0x2001,0x2A6D),(0x2E80,0x2FDF),(0x2FF0,0x303F),(0x3100,0x312F),(0x31A0,0x31EF),(0x3200,0x4DB5),(0x4E00,0x9FBB),(0xF900,0xFA2D),(0xFA30,0xFA6A),(0xFA70,0xFAD9),(0xFE10,0xFE1F),(0xFE30,0xFE4F),(0xFF00,0xFFEF)]
def tokzh(line):
    line = line.strip()
    out = ''.join(' %s ' % c if any(a <= ord(c) <= b for a, b in ZH) else c for c in line)
    return ' '.join(mteval(out).split())
def tokchar(line): return ' '.join(line)
TOK = {'13a': tok13a, 'intl': tokintl, 'zh': tokzh, 'char': tokchar, 'none': lambda x: x}

def ngrams(words, n):
    d = {}
    for i in range(len(words) - n + 1):
        g = tuple(words[i:i+n]); d[g] = d.get(g, 0) + 1
    return d

def bleu_stats(hyp, refs, tok, lc):
    prep = lambda s: TOK[tok](rs(s.lower() if lc else s)).split()
    h = prep(hyp); rl = [prep(r) for r in refs]
    best = None
    for r in rl:
        d = abs(len(h) - len(r))
        if best is None or d < best[0] or (d == best[0] and len(r) < best[1]): best = (d, len(r))
    st = [len(h), best[1]]
    corr, tot = [], []
    for n in range(1, 5):
        hg = ngrams(h, n); mx = {}
        for r in rl:
            for g, c in ngrams(r, n).items(): mx[g] = max(mx.get(g, 0), c)
        corr.append(sum(min(c, mx.get(g, 0)) for g, c in hg.items())); tot.append(max(0, len(h) - n + 1))
    return st + corr + tot

def bleu_score(st, method='exp', sv=None, eff=False):
    sys_len, ref_len = st[0], st[1]; correct = list(st[2:6]); total = list(st[6:10])
    bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0)
    prec = [0.0] * 4
    if not any(correct): return 0.0
    k = sv if sv is not None else {'floor': 0.1, 'add-k': 1}.get(method, 0)
    se = 1.0; eo = 4
    for n in range(4):
        if method == 'add-k' and n > 0: correct[n] += k; total[n] += k
        if total[n] == 0: break
        if eff: eo = n + 1
        if correct[n] == 0:
            if method == 'exp': se *= 2; prec[n] = 100. / (se * total[n])
            elif method == 'floor': prec[n] = 100. * k / total[n]
        else: prec[n] = 100. * correct[n] / total[n]
    lg = lambda x: -9999999999 if x == 0 else math.log(x)
    # Plain left-to-right addition, as METRICS.md 2.7 says (from Python 3.12,
    # sum() of floats is compensated and can differ in the last bit).
    total = 0.0
    for p in prec[:eo]:
        total += lg(p)
    return bp * math.exp(total / eo)

PUNCT = set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')
def chrf_words(line):
    out = []
    for w in line.split():
        if len(w) == 1: out.append(w)
        elif w[-1] in PUNCT: out += [w[:-1], w[-1]]
        elif w[0] in PUNCT: out += [w[0], w[1:]]
        else: out.append(w)
    return out
def chrf_pair(h, r, nc, nw, ws):
    st = []
    hc = h if ws else ''.join(h.split()); rc = r if ws else ''.join(r.split())
    hw, rw = chrf_words(h), chrf_words(r)
    for seqh, seqr, orders in [(hc, rc, nc), (hw, rw, nw)]:
        for n in range(1, orders + 1):
            hg = ngrams(list(seqh), n); rg = ngrams(list(seqr), n)
            hc_ = sum(hg.values()); rc_ = sum(rg.values())
            m = sum(min(c, rg.get(g, 0)) for g, c in hg.items())
            st += [hc_ if rc_ > 0 else 0, rc_, m]
    return st
def chrf_score(st, beta=2, eps_sm=False, nc=6, nw=0):
    f = beta ** 2; eps = 1e-16
    if eps_sm:
        S = 0
        for i in range(len(st) // 3):
            h, r, m = st[3*i:3*i+3]
            p = m / h if h > 0 else eps; rr = m / r if r > 0 else eps
            d = f * p + rr
            S += (1 + f) * p * rr / d if d > 0 else eps
        return 100 * S / (nc + nw)
    P = R = 0; k = 0
    for i in range(len(st) // 3):
        h, r, m = st[3*i:3*i+3]
        if h > 0 and r > 0: P += m / h; R += m / r; k += 1
    if k == 0: return 0.0
    P /= k; R /= k
    if P + R == 0: return 0.0
    t = (1 + f) * P * R; t = t / (f * P + R); return 100 * t
def chrf_stats(hyp, refs, nc=6, nw=0, beta=2, ws=False, eps_sm=False):
    best, bs = None, -1
    for r in refs:
        st = chrf_pair(rs(hyp), rs(r), nc, nw, ws); s = chrf_score(st, beta, eps_sm, nc, nw)
        if s > bs: bs, best = s, st
    return best

# TER
def ed(A, R):
    h, r = len(A), len(R); INF = 10**9
    cost = [[INF] * (r + 1) for _ in range(h + 1)]; op = [[None] * (r + 1) for _ in range(h + 1)]
    for j in range(r + 1): cost[0][j] = j; op[0][j] = 'I'
    ratio = r / h if h > 0 else 1
    beam = math.ceil(ratio / 2 + 25) if 25 < ratio / 2 else 25
    for i in range(1, h + 1):
        diag = math.floor(i * ratio)
        jl = max(0, diag - beam); jh = min(r + 1, diag + beam) if i != h else r + 1
        for j in range(jl, jh):
            if j == 0: cost[i][0] = cost[i-1][0] + 1; op[i][0] = 'D'; continue
            c = cost[i-1][j-1] + (0 if A[i-1] == R[j-1] else 1); o = 'M' if A[i-1] == R[j-1] else 'S'
            if cost[i-1][j] + 1 < c: c = cost[i-1][j] + 1; o = 'D'
            if cost[i][j-1] + 1 < c: c = cost[i][j-1] + 1; o = 'I'
            cost[i][j] = c; op[i][j] = o
    tr = []; i, j = h, r
    while i > 0 or j > 0:
        o = op[i][j]; tr.append(o)
        if o in 'MS': i -= 1; j -= 1
        elif o == 'D': i -= 1
        else: j -= 1
    return cost[h][r], tr[::-1]
def move(A, s, n, t):
    if t < s: return A[:t] + A[s:s+n] + A[t:s] + A[s+n:]
    if t > s + n: return A[:s] + A[s+n:t] + A[s:s+n] + A[t:]
    return A[:s] + A[s+n:n+t] + A[s:s+n] + A[n+t:]
def best_shift(A, R, checked):
    base, tr = ed(A, R)
    ph = pr = -1; align = {}; herr = []; rerr = []
    for o in tr:
        if o in 'MS': ph += 1; pr += 1; align[pr] = ph; e = 0 if o == 'M' else 1; herr.append(e); rerr.append(e)
        elif o == 'D': ph += 1; herr.append(1)
        else: pr += 1; align[pr] = ph; rerr.append(1)
    best = None
    def triples():
        for sh in range(len(A)):
            for sr in range(len(R)):
                if abs(sr - sh) > 50: continue
                ln = 0
                while ln < 10 and A[sh+ln] == R[sr+ln]:
                    ln += 1; yield sh, sr, ln
                    if sh + ln == len(A) or sr + ln == len(R): break
    for sh, sr, ln in triples():
        if sum(herr[sh:sh+ln]) == 0: continue
        if sum(rerr[sr:sr+ln]) == 0: continue
        if sh <= align[sr] < sh + ln: continue
        prev = -1
        for off in range(-1, ln):
            idx = 0 if sr + off == -1 else align[sr+off] + 1
            if idx == prev: continue
            prev = idx
            B = move(A, sh, ln, idx)
            cand = (base - ed(B, R)[0], ln, -sh, -idx, B)
            checked += 1
            if best is None or cand > best: best = cand
        if checked >= 1000: break
    if best is None: return 0, A, checked
    return best[0], best[4], checked
def ter_pair(H, R):
    if not R: return len(H)
    sh = 0; cur = H; checked = 0
    while True:
        g, new, checked = best_shift(cur, R, checked)
        if checked >= 1000 or g <= 0: break
        sh += 1; cur = new
    return sh + ed(cur, R)[0]
def ter_stats(hyp, refs, cs=False):
    prep = lambda s: (rs(s) if cs else rs(s).lower()).split()
    H = prep(hyp); es = []; ls = []
    for r in refs:
        R = prep(r); es.append(ter_pair(H, R)); ls.append(len(R))
    return [min(es), sum(ls) / len(refs)]

def read(p):
    # newline='': lines end at '\n' only; a lone '\r' stays in its line (METRICS.md §1.1)
    t = open(p, encoding='utf-8', newline='').read().split('\n')
    if t and t[-1] == '': t.pop()
    return t

if __name__ == '__main__':
    hyp = read(sys.argv[1]); refs = [read(p) for p in sys.argv[2:]]
    for tok in ['13a', 'intl', 'zh', 'char', 'none']:
        for lc in [False, True]:
            tot = [0] * 10
            for i, h in enumerate(hyp):
                st = bleu_stats(h, [r[i] for r in refs], tok, lc); tot = [a + b for a, b in zip(tot, st)]
            print('bleu', tok, lc, '%.6f' % bleu_score(tot))
    for m in ['floor', 'add-k', 'none']:
        tot = [0] * 10
        for i, h in enumerate(hyp): tot = [a + b for a, b in zip(tot, bleu_stats(h, [r[i] for r in refs], '13a', False))]
        print('bleu-s', m, '%.6f' % bleu_score(tot, m))
    for nw in [0, 2]:
        tot = None
        for i, h in enumerate(hyp):
            st = chrf_stats(h, [r[i] for r in refs], nw=nw); tot = st if tot is None else [a + b for a, b in zip(tot, st)]
        print('chrf', nw, '%.6f' % chrf_score(tot, nw=nw))
    E = L = 0
    for i, h in enumerate(hyp):
        e, l = ter_stats(h, [r[i] for r in refs]); E += e; L += l
    print('ter', '%.6f' % (100 * (E / L) if L > 0 else (100.0 if E > 0 else 0.0)))
