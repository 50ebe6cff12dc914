"""Seeing runs: reading run directories (`rundata`), the `gantool runs` table (`listing`) and the
self-contained HTML report (`html`). No torch: a report opens runs without loading a model."""
