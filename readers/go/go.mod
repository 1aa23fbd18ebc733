module freshtoken.dev/reader

go 1.19
