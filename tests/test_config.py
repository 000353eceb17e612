"""The composed config, in-process: each preset's paper settings, the presets tuned for one data set, the
command line winning over both, and the validation pass's messages (test_cli runs one of each kind through the
`ganlab` command)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from ganlab.commands.compose import compose_config
from ganlab.errors import GanlabError
from ganlab.training.optim import decay_end


def composed(*overrides: str) -> dict:
    return OmegaConf.to_container(compose_config(list(overrides)), enum_to_str=True)


def test_presets_carry_their_papers_hyperparameters():
    wgan_gp = composed("model=wgan_gp")
    assert (wgan_gp["trainer"]["n_critic"], wgan_gp["optim"]["lr"], wgan_gp["optim"]["beta1"], wgan_gp["optim"]["beta2"]) == (5, 1e-4, 0.0, 0.9)
    assert (wgan_gp["penalty"]["name"], wgan_gp["penalty"]["weight"], wgan_gp["objective"]["name"]) == ("gp", 10.0, "wasserstein")
    assert wgan_gp["model"]["d_norm"] == "layer"
    wgan = composed("model=wgan")
    assert (wgan["optim"]["name"], wgan["optim"]["lr"], wgan["penalty"]["name"], wgan["penalty"]["bound"]) == ("rmsprop", 5e-5, "clip", 0.01)
    assert (wgan["trainer"]["n_critic"], wgan["objective"]["name"]) == (5, "wasserstein")
    dcgan = composed("model=dcgan")
    assert (dcgan["model"]["init_std"], dcgan["model"]["g_norm"], dcgan["optim"]["beta1"], dcgan["optim"]["lr"],
            dcgan["trainer"]["batch_size"]) == (0.02, "batch", 0.5, 2e-4, 128)
    cgan = composed("model=cgan")
    assert cgan["model"]["conditional"] is True and cgan["objective"]["name"] == "non_saturating"
    assert decay_end(composed("model=gan", "data=cifar10")) is None  # a constant rate unless a preset or you ask
    rp = composed("model=rpgan")
    assert (rp["objective"]["name"], rp["penalty"]["name"], rp["penalty"]["weight"], rp["penalty"]["every"]) == (
        "rpgan", "r1r2", 0.1, 16)
    assert (rp["model"]["d_norm"], rp["optim"]["beta1"], rp["optim"]["beta2"]) == ("none", 0.0, 0.99)


def test_tuned_preset_for_a_model_on_a_data_set_and_the_command_line_wins():
    tuned = composed("model=gan", "data=grid25")  # configs/model_data/gan_grid25.yaml
    assert (tuned["model"]["hidden"], tuned["penalty"]["name"], tuned["penalty"]["weight"]) == (128, "r1", 0.1)
    assert tuned["penalty"]["every"] == 16  # lazy R1
    assert (tuned["optim"]["lr"], decay_end(tuned), tuned["trainer"]["steps"]) == (1e-3, 25000, 25000)
    ring = composed("model=gan", "data=ring8")  # builds on the grid25 tuning
    assert (ring["trainer"]["steps"], decay_end(ring), ring["penalty"]["name"]) == (15000, 15000, "r1")
    gp = composed("model=wgan_gp", "data=grid25")  # configs/model_data/wgan_gp_grid25.yaml
    assert (gp["model"]["hidden"], gp["model"]["d_norm"], gp["trainer"]["n_critic"]) == (128, "none", 2)
    assert (gp["penalty"]["name"], gp["penalty"]["weight"], gp["penalty"]["every"]) == ("gp", 1.0, 1)
    assert (gp["optim"]["lr"], decay_end(gp), gp["trainer"]["steps"]) == (1e-3, 16000, 16000)
    assert composed("model=wgan_gp", "data=digits")["penalty"]["weight"] == 10.0  # the paper's preset elsewhere
    clipped = composed("model=wgan", "data=grid25")  # configs/model_data/wgan_grid25.yaml
    assert (clipped["model"]["hidden"], clipped["model"]["d_norm"], clipped["penalty"]["bound"]) == (128, "none", 0.01)
    assert (clipped["optim"]["name"], clipped["optim"]["lr"], decay_end(clipped)) == ("rmsprop", 5e-4, 6000)
    for model in ("wgan_gp", "wgan"):  # the ring8 presets are their grid25 tunings (wgan_gp's over 10,000 steps)
        ring, grid = composed(f"model={model}", "data=ring8"), composed(f"model={model}", "data=grid25")
        if model == "wgan_gp":
            assert (ring["trainer"]["steps"], decay_end(ring)) == (10000, 10000)
            grid["trainer"]["steps"] = 10000
        assert {k: ring[k] for k in ("model", "optim", "penalty", "trainer")} == {
            k: grid[k] for k in ("model", "optim", "penalty", "trainer")}
    for data in ("grid25", "ring8"):  # rpgan's toy presets: the gan tuning with R3GAN's objective and R1 + R2
        rp = composed("model=rpgan", f"data={data}")
        gan = composed("model=gan", f"data={data}", "objective=rpgan", "penalty=r1r2", "penalty.weight=0.1",
                       "penalty.every=16")
        assert (rp["model"].pop("name"), rp["model"].pop("arch"), gan["model"].pop("name"), gan["model"].pop("arch")) == (
            "rpgan", "auto", "gan", "mlp")  # auto: an MLP on 2-D points
        assert rp == gan
    digits = composed()  # the default run, model=gan data=digits: configs/model_data/gan_digits.yaml
    assert (digits["model"]["hidden"], digits["model"]["ema"], digits["trainer"]["steps"]) == (512, 0.0, 3000)
    assert (digits["penalty"]["name"], digits["penalty"]["weight"], digits["penalty"]["every"]) == ("r1", 0.1, 16)
    assert (digits["optim"]["lr"], decay_end(digits)) == (2e-3, 3000)
    stacked = composed("model=dcgan", "data=stacked_mnist")  # configs/model_data/dcgan_stacked_mnist.yaml
    assert (stacked["model"]["channels"], stacked["penalty"]["name"], stacked["penalty"]["every"]) == (64, "r1", 16)
    assert (stacked["optim"]["lr"], decay_end(stacked), stacked["trainer"]["steps"]) == (1e-3, 13000, 13000)
    plain = composed("model=gan", "data=mnist")
    assert (plain["model"]["hidden"], plain["penalty"]["name"]) == (512, "none")
    assert composed("model=gan", "data=grid25", "penalty=none")["penalty"]["name"] == "none"
    # a penalty chosen on the command line is its own option's, not the preset's lazy R1
    assert composed("model=gan", "data=grid25", "penalty=gp")["penalty"] == {"name": "gp", "every": 1, "weight": 10.0}
    assert composed("model=gan", "data=grid25", "model.hidden=64")["model"]["hidden"] == 64
    assert composed("model=wgan_gp", "penalty=r1")["penalty"]["name"] == "r1"
    assert composed("model=wgan", "objective=hinge")["objective"]["name"] == "hinge"


def test_a_shortened_preset_decays_over_the_steps_asked_for():
    """A preset's linear schedule ends at the run's last step, whatever trainer.steps the command line gives it;
    optim.decay_steps, where set, ends it elsewhere."""
    for steps in (600, 40_000):  # the wgan_gp grid25 preset trains 16,000 steps
        assert decay_end(compose_config(["model=wgan_gp", "data=grid25", f"trainer.steps={steps}"])) == steps
        assert decay_end(compose_config([f"trainer.steps={steps}"])) == steps  # the default run: 3,000
    assert decay_end(compose_config(["model=wgan_gp", "data=grid25", "trainer.steps=600", "optim.decay_steps=300"])) == 300
    assert decay_end(compose_config(["trainer.steps=600", "optim.schedule=constant"])) is None


@pytest.mark.parametrize("overrides,needles", [
    (["trainer.batch_size=0"], ["trainer.batch_size=0 is out of range", ">= 1"]),
    (["optim.lr=0"], ["optim.lr=0", "> 0"]),
    (["model.arch=resnet"], ["unknown model.arch 'resnet'", "auto, conv, mlp"]),
    (["model=wgan", "penalty.every=4"], ["penalty.every (lazy regularisation) applies to the gradient penalties",
                                         "not to penalty=clip"]),
    (["penalty=none", "penalty.weight=3"], ["penalty.weight=3 applies to penalty=", "not to penalty=none"]),
    (["eval.n=1"], ["eval.n=1 is out of range", ">= 2"]),
    (["data=cifar10", "optim.decay_steps=100"], ["optim.decay_steps=100 is where a linear schedule ends",
                                                 "optim.schedule=constant", "add optim.schedule=linear"]),
    (["optim.schedule=cosine"], ["optim.schedule=cosine is out of range", "constant, linear"]),
])
def test_the_validation_pass_names_the_key_and_the_fix(overrides, needles):
    with pytest.raises(GanlabError) as err:
        compose_config(overrides)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_each_part_section_holds_exactly_its_chosen_parts_keys():
    """model, data, objective and penalty hold the keys every part of them shares and those of the chosen part,
    with that part's defaults: nothing of the parts not chosen."""
    conv = composed("model=dcgan", "data=mnist")  # model.arch=auto: conv nets for images
    assert "channels" in conv["model"] and not {"hidden", "layers", "d_dropout"} & conv["model"].keys()
    assert {k for k in conv["data"] if k not in ("name", "image_size")} == {"root", "download", "limit"}
    mlp = composed("model=dcgan", "data=grid25")  # the same preset on points: its MLP's keys, from model.mlp
    assert (mlp["model"]["hidden"], mlp["model"]["layers"]) == (256, 3) and "channels" not in mlp["model"]
    assert set(mlp["data"]) == {"name", "image_size", "std"} and mlp["objective"] == {"name": "non_saturating"}
    assert composed("objective=kl")["objective"] == {"name": "kl", "non_saturating": True}
    folder = composed("data=folder", "data.path=x")["data"]
    assert folder == {"name": "folder", "image_size": 64, "path": "x", "channels": 3, "limit": None}


def test_a_key_of_one_part_given_for_another_is_an_error_naming_both():
    for overrides, needles in [
        (["model=dcgan", "data=mnist", "model.layers=7"],
         ["model.layers=7 applies to model.arch=mlp", "not to model.arch=conv (model.arch=auto's choice for data=mnist",
          "whose keys are channels", "model.mlp.layers"]),
        (["data=ring8", "data.path=somewhere"], ["data.path=somewhere applies to data=folder", "not to data=ring8",
                                                 "whose keys are std"]),
        (["model=gan", "model.channels=8"], ["model.channels=8 applies to model.arch=conv", "hidden, layers, d_dropout"]),
        (["model.mlp.hiden=3"], ["model.mlp.hiden", "model.arch=mlp has no key hiden", "hidden, layers, d_dropout"]),
        (["model.mpl.hidden=3"], ["no network family mpl", "Did you mean model.mlp?"]),
    ]:
        with pytest.raises(GanlabError) as err:
            compose_config(overrides)
        assert "\n" not in str(err.value) and all(n in str(err.value) for n in needles), str(err.value)


def test_a_key_set_under_a_part_applies_when_that_part_is_chosen_and_the_plain_key_wins():
    both = ["model=dcgan", "model.mlp.hidden=48", "model.conv.channels=12"]
    assert composed(*both, "data=grid25")["model"]["hidden"] == 48 and composed(*both, "data=mnist")["model"]["channels"] == 12
    assert composed(*both, "data=grid25", "model.hidden=20")["model"]["hidden"] == 20
    assert composed("objective=kl", "objective.kl.non_saturating=false")["objective"]["non_saturating"] is False
    assert composed("objective=hinge", "objective.kl.non_saturating=false")["objective"] == {"name": "hinge"}


def test_no_yaml_of_configs_sets_a_parts_key_outside_its_part():
    """ganlab's own presets write a part's keys under the part (model.mlp.hidden), so that a plain key
    (model.hidden) always comes from the user, wins over them, and is refused where the chosen part lacks it."""
    import yaml

    from ganlab.commands.compose import config_dir, registries
    from ganlab.config.parts import part_keys

    found = []
    for path in sorted(config_dir().rglob("*.yaml")):
        text, is_global = yaml.safe_load(path.read_text()) or {}, "@package _global_" in path.read_text()
        for section, registry in registries().items():
            node = text.get(section) if is_global else text if path.parent.name == section else None
            found += [f"{path.parent.name}/{path.name}: {section}.{k}" for k in (node or {}) if k in part_keys(registry)]
    assert not found, found
