\\ Times PARI/GP's primecert and primecertisvalid on each prime of the file named by the
\\ environment variable PRIMES; prints "digits prove_ms verify_ms steps" per prime.
\\ Used by scripts/ecpp-vs-pari.sh.
L = readvec(getenv("PRIMES"));
{
for(i = 1, #L,
  my(n = L[i], c, t, tp, tv);
  t = getabstime(); c = primecert(n); tp = getabstime() - t;
  t = getabstime(); if(!primecertisvalid(c), error("invalid certificate")); tv = getabstime() - t;
  print(#Str(n), " ", tp, " ", tv, " ", #c));
}
quit
