default(parisize, 256*1024*1024);
for(n=2,200, f=factor(2^n-1); s=Str(n,":"); for(i=1,#f~, for(j=1,f[i,2], s=Str(s," ",f[i,1]))); print(s));
