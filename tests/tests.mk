# tests fragment (filled below)
