#!/bin/sh
# Regenerates every figure of docs/game-sim.md. Run from the repository root:
#   sh docs/img/game-sim/make-figures.sh
set -e
out=docs/img/game-sim
rm -f $out/*.png $out/*.gif  # gantool refuses to overwrite without --force
gantool game-sim --x 2 --y 2 --plot $out/lecture.png
gantool game-sim --x 2 --y 2 -o simgd,extragradient --animate $out/lecture.gif
gantool game-sim -o simgd,altgd,ogda,extragradient,consensus,negative-momentum,adam,flow \
    --plot $out/compare.png
gantool game-sim -o simgd,altgd,ogda,extragradient,consensus,negative-momentum,flow \
    --sweep-lr 0.01:1.2:120 --steps 300 --plot $out/sweep.png
gantool game-sim --game dirac-gan --x 1 --y 1 -o simgd,altgd,extragradient --steps 500 \
    --plot $out/dirac-gan.png
gantool game-sim --game dirac-gan --regularizer r1 --gamma 0.3 --x 1 --y 1 -o simgd,altgd \
    --steps 500 --plot $out/dirac-gan-r1.png
gantool game-sim -u simgd,extragradient,ogda,cgd,sga,lookahead --lr 0.5 --steps 30 \
    --plot-eigenvalues $out/eigenvalues.png
gantool game-sim --game dirac-gan --loss rpgan --regularizer r1+r2 --x 0.5 --y 0.5 -u simgd,cgd \
    --sweep lr=0.05:1.5:30,gamma=0:1:21 --steps 300 --plot $out/phase-rpgan.png
gantool game-sim --game quadratic --x 1 --y 1 -u simgd,extragradient,cgd \
    --sweep lr=0.05:2.5:50,mix=0:1:21 --plot $out/phase-quadratic.png
