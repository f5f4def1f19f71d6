# sacreBLEU's bootstrap CI, paired bootstrap and paired approximate randomization
# (METRICS.md §6) on BLEU statistics from tests/eval/spec_model.py, with NumPy's
# default_rng(12345): the reference numbers for moe-eval's resampling (needs numpy).
#
#   python3 tests/eval/spec_model_significance.py BASELINE_HYP REF SYSTEM_HYP
import os, sys
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec_model as S
hyp = S.read(sys.argv[1]); ref = S.read(sys.argv[2]); hyp2 = S.read(sys.argv[3])
def rows(h): return np.array([S.bleu_stats(h[i], [ref[i]], '13a', False) for i in range(len(h))], dtype=np.float32)
def score(v): return S.bleu_score([int(round(x)) for x in v])
st = rows(hyp); N = len(st); n = 1000
idx = np.random.default_rng(12345).choice(N, size=(n, N), replace=True)
sc = np.array([score(st[i].sum(axis=0)) for i in idx]); mean = sc.mean(); s = np.sort(sc); lo = n // 40; hi = n - lo - 1
print('ci %.4f %.4f' % (mean, (s[hi] - s[lo]) / 2))
st2 = rows(hyp2)
sc2 = np.array([score(st2[i].sum(axis=0)) for i in idx])
d = np.abs(sc2 - sc); t = d - d.mean(); delta = abs(score(st2.sum(axis=0)) - score(st.sum(axis=0)))
print('bs p %.4f mean %.4f ci %.4f' % (((t > delta).sum() + 1) / (n + 1), sc2.mean(), (np.sort(sc2)[hi] - np.sort(sc2)[lo]) / 2))
m = 2000
coins = np.random.default_rng(12345).integers(2, size=(m, N), dtype=bool)
cnt = 0
for j in range(m):
    a = np.where(coins[j][:, None], st2, st).sum(axis=0); b = np.where(coins[j][:, None], st, st2).sum(axis=0)
    cnt += abs(score(a) - score(b)) > delta
print('ar p %.4f' % ((cnt + 1) / (m + 1)))
