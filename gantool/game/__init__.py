"""game-sim: two-player minimax games, the optimizers that play them, and what they do.

Convention used everywhere in this package (the lecture's): player A holds x and MAXIMISES
V(x, y); player B holds y and MINIMISES it. A game is described by its update field
v(z) = (+dV/dx, -dV/dy) on the stacked state z = (x, y): the direction each player wants to move.

Modules: `games` and `optimizers` register the built-ins (they import nothing heavy, so
`gantool list game` stays fast); `fields` and `updates` hold the numpy implementations;
`simulate` runs them, `phase` runs them over a grid of two parameters, `analysis` judges the
runs, `stability` gives the closed-form stable step sizes, `report` renders results, `plots`
draws them.
This package never imports torch; scipy and matplotlib are imported only by `flow` and `plots`.
"""
