"""Scorers: the `Scorer` contract, the offline profile, text normalisation, aggregation with CIs."""
