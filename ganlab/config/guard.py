"""What a config and a command line may make ganlab do beyond training, decided before anything runs.

The schema closes the task's keys, but Hydra's own (``hydra.*``, from the command line or from any YAML under
``--config-dir``) name things that run: ``_target_`` classes are instantiated, logging handlers are built,
environment variables are set for the job, and several values become paths. So, on the composed config:

- ``_target_`` only where Hydra instantiates one, and only what ganlab ships or Hydra's installed plugins do:
  ``hydra.callbacks.<name>`` a callback class of ganlab's own, ``hydra.launcher`` / ``hydra.sweeper`` a
  launcher / sweeper plugin, ``hydra.sweeper.sampler`` a sampler the sweeper plugin ships; anywhere else (nested
  in those too) a ``_target_`` is refused, as is a custom search-space function;
- logging (``hydra.job_logging``, ``hydra.hydra_logging``): the standard library's handlers and formatter, no
  ``()`` factories, no ``ext://`` objects but the standard streams, log files only inside the run dir;
- ``hydra.job.env_set``: the thread and device variables (:data:`ENV_ALLOWED`), none that loads code;
- a name is a name (:func:`check_name`): ``model.name``, ``hydra.job.name``, ``hydra.output_subdir`` hold no
  separator and are not ``..``; ``hydra.run.dir`` / ``hydra.sweep.dir`` are not empty; ``hydra.sweep.subdir``
  does not climb out of the sweep;
- every interpolation resolves.

On the command line (:func:`command_line`): ``--experimental-rerun`` (it unpickles a file) and a primary config
of another name or folder (``-cn``, ``-cp``: the check above is made on ganlab's ``train`` config) are refused;
so is a search (Optuna's sweeper) without ``-m``.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ganlab.errors import GanlabError

SEPARATORS = ("/", "\\", "\0")
ENV_ALLOWED = ("OMP_*", "MKL_*", "OPENBLAS_*", "CUDA_VISIBLE_DEVICES", "CUBLAS_WORKSPACE_CONFIG")
HANDLERS = {"logging.StreamHandler": False, "logging.NullHandler": False, "logging.FileHandler": True,
            "logging.handlers.RotatingFileHandler": True, "logging.handlers.TimedRotatingFileHandler": True,
            "logging.handlers.WatchedFileHandler": True}  # class: whether it writes a file
FORMATTERS = ("logging.Formatter",)
STREAMS = ("ext://sys.stdout", "ext://sys.stderr")
RUN_DIR = ("${hydra.runtime.output_dir}/", "${hydra:runtime.output_dir}/")  # what a log file's path starts with
FIX = "Remove it from your config (`ganlab train --cfg hydra <the same overrides>` shows where it is set)."


def check_name(key: str, value: Any, what: str = "it becomes part of a path") -> None:
    """Refuse a ``key`` whose value is no plain name: empty, ``.`` or ``..``, or with a path separator."""
    text = str(value)
    if not text or text in (".", "..") or any(s in text for s in SEPARATORS):
        raise GanlabError(f"{key}={text!r} is not a name: {what}, so it may not be empty, '.' or '..', or hold a "
                          "'/' or '\\'. Give it a plain name (letters, digits, '-', '_', '.').")


def check_names(cfg: DictConfig) -> None:
    """The task's names that become paths (a run dir is named after ``model.name``); the other sections' names
    are the names of registered parts."""
    check_name("model.name", cfg.model.name, "it names the run dir (outputs/runs/<date>_<model.name>_<data.name>)")


def check_checkpoint(name: str) -> None:
    """``checkpoint=`` names one of a run's own checkpoints (a file in its ``checkpoints/``), not a path."""
    check_name("checkpoint", name, "it names a file in the run's own checkpoints/ folder (last, best, "
               "step_0000100.pt); to use another run's checkpoint pass that run as run=<dir>")


# ------------------------------------------------------------------------------------------ the command line
def command_line(args: list[str]) -> list[str]:
    """``ganlab train``'s words, with ``--flag=value`` as two words; refuses the flags that run or read what
    this module cannot check."""
    out: list[str] = []
    for arg in args:
        flag, eq, value = arg.partition("=")
        if flag == "--experimental-rerun":
            raise GanlabError("--experimental-rerun unpickles the file it is given (a crafted one runs any code it "
                              "holds); ganlab does not offer it. Run the command again with the overrides in the "
                              "run's .hydra/overrides.yaml, or continue the run with resume=<run dir>.")
        if flag in ("--config-name", "-cn", "--config-path", "-cp"):
            raise GanlabError(f"{flag}: ganlab train composes its own config (configs/train.yaml), which it checks "
                              "before anything runs. Put your YAML files under a folder of groups and add it with "
                              "--config-dir <dir>, then pick them on the command line (+experiment=<name>).")
        out += [flag, value] if eq and flag in ("--config-dir", "-cd") else [arg]
    return out


def split_sweeps(args: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """The words of ``args`` that are no sweep, and each swept key's values (``seed=1,2,3``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    words = [a for a in args if "=" in a and not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(words)
    except HydraException as err:
        raise GanlabError(f"{err}. Sweep syntax: key=a,b,c; key=range(a,b); key=interval(a,b); "
                          "key=tag(log, interval(a,b)); key=choice(a,b).") from err
    swept = {w: o for w, o in zip(words, parsed, strict=True) if o.is_sweep_override()}
    values = {o.get_key_element().lstrip("+~"): _sweep_values(o) for o in swept.values()}
    return [a for a in args if a not in swept], values


def _sweep_values(override: Any) -> list[Any]:
    try:
        return list(override.sweep_iterator())
    except Exception:  # a range or an interval: numbers, which neither name a path nor interpolate
        return []


def hydra_quoted(args: list[str], keys: tuple[str, ...] = ("resume", "hydra.run.dir")) -> list[str]:
    """``key=<dir>`` for an existing dir whose name Hydra's override grammar would split or unquote (a comma, a
    quote, a space, brackets), written as a quoted Hydra string, so that ``resume=<any run dir>`` works."""
    out = []
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and key in keys and re.search(r"[,'\"\s\\\[\](){}=:]", value) and Path(value).expanduser().is_dir():
            escaped = re.sub(r"(\\*)('|$)", lambda m: m[1] * 2 + ("\\'" if m[2] else ""), value)
            arg = f"{key}='{escaped}'"
        out.append(arg)
    return out


# ------------------------------------------------------------------------------------------ the composed config
PRINTS = ("--cfg", "-c", "--info", "-i", "--help", "-h", "--hydra-help", "--shell-completion", "-sc", "--version")


def check_command(args: list[str], compose: Callable[[list[str]], tuple[DictConfig, Any] | None]) -> None:
    """Before Hydra starts the command ``args`` (its words after ``--config-dir`` normalised): check the config
    it composes (``compose(words)``: the config with Hydra's part, or None) and each swept value. A command that
    only prints (``--cfg``, ``--info``, ``--help``) runs nothing and is left to Hydra."""
    if any(a in PRINTS for a in args):
        return
    plain, sweeps = split_sweeps(args)
    composed = compose(plain)
    if composed is None:
        return
    check_app(composed[0], sweeps)
    if "optuna" in str(composed[0].hydra.sweeper.get("_target_", "")) and not {"-m", "--multirun"} & set(args):
        given = next((a for a in args if "hparams_search=" in a), "hydra/sweeper=optuna")
        raise GanlabError(f"{given} is a search, many runs that Optuna's sweeper chooses: add -m (ganlab train -m "
                          f"{given} ...). Without -m it would train one run and report it as a failed trial.")


def check_app(cfg: DictConfig, sweeps: dict[str, list[Any]] | None = None) -> None:
    """The whole check of the composed config ``ganlab train`` is about to run (Hydra's part included), and of
    the values a sweep gives its keys."""
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(cfg)  # for ${hydra:...} in a user's config
    hydra = OmegaConf.to_container(cfg.hydra, resolve=False)
    assert isinstance(hydra, dict)
    _check_targets(hydra)
    for section in ("job_logging", "hydra_logging"):
        _check_logging(hydra.get(section) or {}, f"hydra.{section}")
    for name in (hydra.get("job", {}).get("env_set") or {}):
        if not any(fnmatch.fnmatchcase(str(name), pattern) for pattern in ENV_ALLOWED):
            raise GanlabError(f"hydra.job.env_set.{name}: a config may set only {', '.join(ENV_ALLOWED)} for a job "
                              f"(others can make a job load code, e.g. LD_PRELOAD, PYTHONPATH, PATH). {FIX}")
    _resolved(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), "the config")
    for key in ("hydra.run.dir", "hydra.sweep.dir", "hydra.job.name", "hydra.output_subdir"):
        _resolved(cfg, key, key)
    if cfg.hydra.job.name is not None:
        check_name("hydra.job.name", cfg.hydra.job.name, "it names the run's log file")
    if cfg.hydra.output_subdir is not None:
        check_name("hydra.output_subdir", cfg.hydra.output_subdir, "it names the run's folder of Hydra files")
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        if not str(OmegaConf.select(cfg, key)).strip():
            raise GanlabError(f"{key} is empty: a run would write into the working folder, among other files. Give "
                              f"it a folder ({key}=<dir>), or leave it out for a new one under outputs/.")
    subdir = str(hydra["sweep"]["subdir"])
    if subdir.startswith(SEPARATORS) or ".." in re.split(r"[/\\]", subdir):
        raise GanlabError(f"hydra.sweep.subdir={subdir} climbs out of the sweep's dir: a job's dir is a folder "
                          "inside it. Drop the '..' (and a leading '/').")
    check_names(cfg)
    for key, values in (sweeps or {}).items():
        for value in values:
            if key in ("model.name", "hydra.job.name", "hydra.output_subdir"):
                check_name(key, value)
            if isinstance(value, str) and "${" in value:
                probe = cfg.copy()
                OmegaConf.update(probe, key, value, force_add=True)
                _resolved(probe, f"{key}={value}", key)


def _resolved(cfg: Any, what: str, key: str | None = None) -> None:
    """Every interpolation in ``cfg`` (a config, or one section of it), or in its ``key``, resolves."""
    try:
        if key is not None:
            OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
        elif OmegaConf.is_config(cfg):
            OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", "") or ""
        first = str(err).splitlines()[0].rstrip(".")
        raise GanlabError(f"{what}{f' (at {key})' if key else ''}: {first}. An interpolation ${{...}} must name a "
                          "key of the config (${trainer.steps}) or a set environment variable (${oc.env:NAME}); "
                          "`ganlab train --cfg job` prints the keys there are.") from err


def _nodes(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every mapping in ``node`` with its path."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _nodes(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _nodes(v, (*path, str(i)))


def _check_targets(hydra: dict[str, Any]) -> None:
    if (hydra.get("sweeper") or {}).get("custom_search_space"):
        raise GanlabError("hydra.sweeper.custom_search_space names a Python function that the search would call: "
                          f"a config may not run code. Give the search space as hydra.sweeper.params. {FIX}")
    for path, node in _nodes(hydra):
        if "_target_" not in node:
            continue
        target, where = node["_target_"], ".".join(("hydra", *path))
        if not isinstance(target, str) or not _allowed(path, target):
            raise GanlabError(
                f"{where}._target_={target}: a config may instantiate only ganlab's own callbacks "
                "(hydra.callbacks.<name>), the launchers and sweepers of Hydra's installed plugins (hydra.launcher, "
                "hydra.sweeper) and an Optuna sampler (hydra.sweeper.sampler); nothing else, which could run any "
                f"code. {FIX}")


def _allowed(path: tuple[str, ...], target: str) -> bool:
    from hydra.core.plugins import Plugins
    from hydra.experimental.callback import Callback
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    module, _, name = target.rpartition(".")
    if len(path) == 2 and path[0] == "callbacks":
        if not re.fullmatch(r"ganlab(\.\w+)+", module) or module.endswith("__main__"):
            return False
        try:
            made = getattr(importlib.import_module(module), name, None)
        except ImportError:
            return False
        return isinstance(made, type) and issubclass(made, Callback)
    if path in (("launcher",), ("sweeper",)):
        plugin = Plugins.instance().class_name_to_class.get(target)
        return isinstance(plugin, type) and issubclass(plugin, Launcher if path[0] == "launcher" else Sweeper)
    if path == ("sweeper", "sampler"):  # the samplers the sweeper plugin ships (hydra/sweeper/sampler=<option>)
        from hydra.core.config_store import ConfigStore

        shipped = ConfigStore.instance().repo.get("hydra", {}).get("sweeper", {}).get("sampler", {})
        return target in {str(option.node.get("_target_")) for option in shipped.values()}
    return False


def _check_logging(section: dict[str, Any], where: str) -> None:
    for path, node in _nodes(section):
        if "()" in node:
            raise GanlabError(f"{'.'.join((where, *path))}: a '()' factory is called to build a logging part, which "
                              f"could run any code; a config may use the standard library's classes only. {FIX}")
        for k, v in node.items():
            if isinstance(v, str) and v.startswith("ext://") and v not in STREAMS:
                raise GanlabError(f"{'.'.join((where, *path, str(k)))}={v}: a logging config may name "
                                  f"{' or '.join(STREAMS)} only. {FIX}")
    for kind, allowed in (("handlers", tuple(HANDLERS)), ("formatters", FORMATTERS)):
        for name, part in (section.get(kind) or {}).items():
            cls = (part or {}).get("class", allowed[0])
            if cls not in allowed:
                raise GanlabError(f"{where}.{kind}.{name}.class={cls}: a logging config may use "
                                  f"{', '.join(allowed)}. {FIX}")
            filename = str((part or {}).get("filename", ""))
            if kind == "handlers" and HANDLERS[cls] and not _in_run_dir(filename):
                raise GanlabError(f"{where}.{kind}.{name}.filename={filename}: a log file goes into the run's own "
                                  f"dir: {RUN_DIR[0]}<name>.log. {FIX}")


def _in_run_dir(filename: str) -> bool:
    """Whether a log file's path (as the config gives it) names a file in the run dir: ``<run dir>/<name>``."""
    rest = next((filename[len(p):] for p in RUN_DIR if filename.startswith(p)), None)
    if rest is None:
        return False
    name = rest.replace("${hydra.job.name}", "job").replace("${hydra:job.name}", "job")  # itself a checked name
    return "${" not in name and not any(s in name for s in SEPARATORS) and name not in ("", ".", "..")


# ------------------------------------------------------------------------------------------ YAML files
YAML_LIMIT = 2**20  # bytes: the YAML files ganlab reads (Hydra's and Optuna's records) are a few KiB


def load_yaml(path: Path) -> Any:
    """A YAML file of plain values, read as data only: no Python tags (safe_load), no aliases (a few lines of
    them expand to billions of nodes), at most :data:`YAML_LIMIT` bytes. A file that is not is a GanlabError
    (the caller says what the file is and what to do: it is raised with the reason only)."""
    import yaml

    class _NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("it holds a YAML alias (*name), which ganlab's files never do")
            return super().compose_node(parent, index)

    try:
        if path.stat().st_size > YAML_LIMIT:
            raise GanlabError(f"it is larger than {YAML_LIMIT // 1024} KiB")
        return yaml.load(path.read_text(), Loader=_NoAliases)  # noqa: S506 -- a SafeLoader
    except (yaml.YAMLError, OSError, ValueError) as err:
        raise GanlabError(str(err).splitlines()[0] if str(err) else type(err).__name__) from err
