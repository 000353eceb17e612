"""What a checkpoint holds beyond the weights: the random streams, and the run's own config on resume."""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from ganlab.errors import GanlabError

GROUPS = ("model", "objective", "penalty", "data", "augment", "device")  # what a resumed run keeps


def rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def resumed_config(schema: type, saved: dict[str, Any], overrides: list[str]) -> DictConfig:
    """The run's own config, with the command line's ``key=value`` overrides (e.g. trainer.steps) on top."""
    keys = [o for o in overrides if not o.startswith("resume=")]
    groups = [o for o in keys if o.split("=", 1)[0].lstrip("+~") in (*GROUPS, "seed")]
    if groups:
        raise GanlabError(
            f"a resumed run keeps its model, data, objective, penalty, augmentation, device and seed; drop {', '.join(groups)} "
            "from the command line (key overrides such as trainer.steps=M are allowed), or start a new run."
        )
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = OmegaConf.merge(OmegaConf.structured(schema), saved)
    except OmegaConfBaseException as err:
        raise GanlabError(f"the checkpoint holds a config this version of ganlab cannot read "
                          f"({str(err).splitlines()[0]}); it is not a ganlab checkpoint it can resume. Resume it "
                          "with the ganlab version that wrote it, or train anew.") from err
    try:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(keys))
    except OmegaConfBaseException as err:
        raise GanlabError(f"{str(err).splitlines()[0]} (in {' '.join(keys)}). `ganlab train --cfg job` shows the "
                          "keys and their types.") from err
    assert isinstance(cfg, DictConfig)
    return cfg
