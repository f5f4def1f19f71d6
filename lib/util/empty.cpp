// Keeps every concept library non-empty while its folder has no sources yet.
