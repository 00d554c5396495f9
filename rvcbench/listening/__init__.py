"""Listening tests: export a blind static test page from finished runs, import the ratings it downloads.

`export` picks items on the pairs all runs share and writes DIR/index.html, listen.js, listen.css, audio/ and
the key test.json; `ratings` reads the CSVs, `screening` drops listeners failing attention checks, `report`
computes per-model scores and the MOS predictors' correlation with the listeners (`stats`).
"""
