x
1
