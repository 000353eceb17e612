"""R1 and R2 together (R3GAN, Huang et al. 2024): zero-centred gradient penalties on real and on fake samples."""

from __future__ import annotations

from torch import Tensor, nn

from ganlab.objectives import PENALTIES
from ganlab.objectives.penalties import R1, R2, Penalty, Report, WeightParams, _ignore


@PENALTIES.register("r1r2", params=WeightParams)
class R1R2(Penalty):
    """weight / 2 * (E_p[||grad D(x)||^2] + E_q[||grad D(G(z))||^2]): D flat on the data and on G's samples,
    which R3GAN finds makes the relativistic pairing objective (``objective=rpgan``) converge locally. Reports
    ``Penalty/r1r2`` and each part's own tags (``Penalty/r1``, ``Penalty/r2`` and their gradient norms)."""

    name = "r1r2"
    gradient = True

    def __init__(self, weight: float = 10.0):
        self.parts = (R1(weight), R2(weight))

    def __call__(self, D: nn.Module, real: Tensor, fake: Tensor, y: Tensor | None, report: Report = _ignore) -> Tensor:
        value = sum(part(D, real, fake, y, report) for part in self.parts)
        report(f"Penalty/{self.name}", value.detach())
        return value
