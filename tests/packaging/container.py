"""Runs a buildah image as a container runtime would, with nothing but util-linux: no engine, no runc here.

`buildah run` cannot make the root filesystem read-only, so the image's rootfs (`buildah mount`) is run
with the same kernel mechanisms a runtime uses, each chosen for the property a test checks:

- a new mount namespace where the rootfs is bind-mounted read-only, as `readOnlyRootFilesystem: true`,
  with `/proc`, a small `/dev` and a tmpfs `/tmp` (what Kubernetes mounts besides), then `chroot` into it;
- a new PID namespace in which the entrypoint is PID 1, as in a container: SIGTERM reaches it directly,
  with no shell between, and PID 1 dies of a signal only if it handles it;
- the image's `User` (numeric uid:gid), no supplementary groups, every capability dropped from all sets
  and no_new_privs, by util-linux `setpriv` from the image itself, as `capabilities: drop: [ALL]`;
- the image's `Env`, `Entrypoint` and `Cmd`, and nothing of the host's environment but what is passed;
- the host's network namespace, as `hostNetwork`, so the container reaches a simulator on loopback.

Must run as root (mounts and chroot). The process' host PID is that of the namespace's PID 1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# The namespace's PID 1 is the child of `unshare --fork`; the script below ends by exec-ing the entrypoint.
_LAUNCH = r"""
set -eu
root=$1 user=$2; shift 2
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=755,size=1m tmpfs "$root/dev"
for device in null zero random urandom; do
  touch "$root/dev/$device"; mount --bind "/dev/$device" "$root/dev/$device"
done
mount -t tmpfs -o mode=1777,size=16m tmpfs "$root/tmp"
exec chroot "$root" /usr/bin/setpriv --reuid "${user%%:*}" --regid "${user##*:}" --clear-groups \
  --inh-caps=-all --bounding-set=-all --no-new-privs -- /usr/bin/env -i "$@"
"""


def image_config(image: str) -> dict[str, Any]:
    """The image's config as buildah stores it (`OCIv1` config, plus `Docker` for HEALTHCHECK)."""
    found = subprocess.run(
        ["buildah", "inspect", "--type", "image", image], capture_output=True, text=True, check=True
    )
    return dict(json.loads(found.stdout))


class Container:
    """One run of `image`: `start()`, then `pid` (host PID of its PID 1), `stop()`, `remove()`."""

    def __init__(self, image: str, args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.image = image
        self.config = image_config(image)["OCIv1"]["config"]
        self.args = list(args) or list(self.config.get("Cmd") or [])
        self.env = [*self.config.get("Env", []), *(f"{k}={v}" for k, v in (env or {}).items())]
        self.container = subprocess.run(
            ["buildah", "from", "--pull-never", image], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.rootfs = subprocess.run(
            ["buildah", "mount", self.container], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, output: IO[bytes]) -> Container:
        command = [*self.config["Entrypoint"], *self.args]
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "--kill-child",
             "sh", "-c", _LAUNCH, "launch", self.rootfs, self.config["User"], *self.env, *command],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        """Host PID of the container's PID 1 (the child of unshare), once it exists."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for _ in range(100):
            found = children.read_text().split() if children.exists() else []
            if found:
                return int(found[0])
            time.sleep(0.05)
        raise RuntimeError("the container's PID 1 did not appear")

    def exec(self, *command: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `command` inside the container's mount namespace and root (as root, or as `user`)."""
        enter = ["nsenter", "--target", str(self.pid), "--mount", "--pid", "--root", "--wd"]
        if user is not None:
            uid, gid = user.split(":")
            enter += ["--setuid", uid, "--setgid", gid]
        env = {k: v for k, v in (item.split("=", 1) for item in self.env)}
        return subprocess.run([*enter, *command], capture_output=True, text=True, env=env, check=False)

    def terminate(self) -> None:
        """SIGTERM to the container's PID 1, as the runtime sends it."""
        os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        subprocess.run(["buildah", "rm", self.container], capture_output=True, check=False)
