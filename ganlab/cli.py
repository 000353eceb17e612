"""The ``ganlab`` command: a thin dispatcher that imports nothing heavy until a subcommand needs it."""

from __future__ import annotations

import os
import sys

USAGE = """\
usage: ganlab <command> [key=value ...]

commands:
  train        train a GAN (a Hydra app: `ganlab train --help`, `-m` for sweeps, `--cfg job` to print the config)
                 ganlab train model=wgan_gp data=grid25 trainer.steps=2000
                 ganlab train -m model=gan,wgan_gp optim.lr=1e-4,2e-4
                 ganlab train resume=<run dir> trainer.steps=<M>
  sample       write samples of a trained run as .npz arrays or a .png grid (numbered: each sample's index)
                 ganlab sample run=<run dir> n=<N> out=<file.npz|file.png> [label=<k>] [seed=<s>] [numbered=true] [weights=raw]
  interpolate  walks through the latent space: a .png grid (a walk a row) or an animated .gif
                 ganlab interpolate run=<run dir> out=<file.png|file.gif> [n=8] [steps=10] [mode=slerp|lerp|classes]
  arithmetic   DCGAN's vector arithmetic mean(a) - mean(b) + mean(c) on the latents of a numbered grid
                 ganlab arithmetic run=<run dir> a=3,17,22 b=5,9,40 c=11,12,30 out=<file.png> [n=64] [seed=0]
  export       the generator as ONNX, a torch.export program or safetensors (Python: ganlab.load_generator)
                 ganlab export run=<run dir> out=<file.onnx|file.pt2|file.safetensors> [weights=ema|raw]
  eval         compute a run's metrics beside the real data's and write <run dir>/metrics.json
                 ganlab eval run=<run dir> [n=<N>] [checkpoint=last|best] [weights=ema|raw] [out=<file.json>]
                             [data.root=<dir>] [inception_weights=<file>]
  report       compare the runs of a sweep: report.md, report.csv and report.png
                 ganlab report <multirun dir> [out=<dir>]

`ganlab <command> --help` lists every key of a command with its default and an example.
Runs are written to outputs/ (TensorBoard: `tensorboard --logdir outputs`).
"""

COMPLETION = ("-sc", "--shell-completion")  # Hydra's shell completion of `ganlab train`'s groups and keys
COMMANDS = {"train": "train", "sample": "sample", "interpolate": "interpolate", "arithmetic": "arithmetic",
            "export": "export", "eval": "evaluate", "report": "report"}  # command -> module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    if argv[0] in ("-V", "--version"):
        import ganlab

        print(f"ganlab {ganlab.__version__} from {os.path.dirname(os.path.abspath(ganlab.__file__))}")
        return 0
    command, args = argv[0], argv[1:]
    if command in COMPLETION:  # what the installed completion asks as the user types `ganlab ...<TAB>`
        if not _completing_train(argv):
            return 0
        command, args = "train", argv
    # OpenMP threads that wait for work by sleeping, not spinning (read once, when torch loads OpenMP): on a
    # CPU shared with other processes, spinning threads steal each other's cores and every op waits for a
    # time slice. 500 default steps on a busy 2-core machine: 72.7 s spinning, 19.0 s sleeping. A user's
    # own OMP_WAIT_POLICY wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if command not in COMMANDS:
        print(f"ganlab: unknown command '{command}'. Choose one of: {', '.join(COMMANDS)}.\n", file=sys.stderr)
        print(USAGE, end="", file=sys.stderr)
        return 2

    import importlib

    from ganlab.console import error
    from ganlab.errors import GanlabError

    try:
        module = importlib.import_module(f"ganlab.commands.{COMMANDS[command]}")
        return module.main(args)
    except GanlabError as err:
        error(f"ganlab {command}: error: {err}")
        return 2
    except BrokenPipeError:  # `ganlab train --help | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"ganlab {command}: interrupted.", file=sys.stderr)
        return 130


def _completing_train(argv: list[str]) -> bool:
    """The shell's question (``ganlab -sc query=bash``, the line typed so far in ``COMP_LINE``): the command names
    while the first word is typed (printed here); Hydra answers for ``ganlab train`` (True: the line is then
    given to it as its app's, ``ganlab <overrides>``); the other commands complete nothing (the shell offers
    file names)."""
    line = os.environ.get("COMP_LINE")
    if line is None or not any(a.startswith("query=") for a in argv):
        return True  # install=bash / uninstall=bash: Hydra writes the script
    words = line.split()
    if len(words) == 1 or (len(words) == 2 and not line.endswith(" ")):
        print(" ".join(c for c in COMMANDS if c.startswith(words[1] if len(words) == 2 else "")))
        return False
    if words[1] != "train":
        return False
    os.environ["COMP_LINE"] = line.replace(" train", "", 1)
    return True


if __name__ == "__main__":
    sys.exit(main())
