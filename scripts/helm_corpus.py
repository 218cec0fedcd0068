"""The Helm corpus runner behind `cargo run -p flux-dev -- corpus helm`.

A case is a txtar bundle: header lines `args: NAME CHART FLAGS…` (one
`helm template` run each), `binary: PATH BASE64` (a file of arbitrary bytes,
written before any packing) and `tgz: DIR` (pack DIR as DIR-<version>.tgz,
the way `helm package` lays an archive out, then remove DIR), then
`-- path --` file sections. Each run's expected output is what the real `helm template`
printed: stdout on success, the `Error: …` text of stderr on failure. With
HELM4 set, each run is repeated with Helm v4 and the differences are listed
in expected/helm4-differences.txt.
"""
import base64
import io
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile


def parse(text):
    header, files, cur = [], [], None
    for line in text.splitlines(keepends=True):
        s = line.rstrip("\n")
        if s.startswith("-- ") and s.endswith(" --") and len(s) > 6:
            cur = [s[3:-3].strip(), []]
            files.append(cur)
        elif cur is None:
            header.append(s)
        else:
            cur[1].append(line)
    return header, [(p, "".join(c)) for p, c in files]


def chart_version(path):
    with open(os.path.join(path, "Chart.yaml")) as f:
        for line in f:
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip().strip("'\"")
    return "0.0.0"


def materialize(text, root):
    header, files = parse(text)
    for path, content in files:
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
    for h in header:
        if h.startswith("binary:"):
            path, data = h[7:].split()
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(base64.b64decode(data))
    runs = []
    for h in header:
        if h.startswith("tgz:"):
            d = h[4:].strip()
            full = os.path.join(root, d)
            base = os.path.basename(d)
            out = os.path.join(os.path.dirname(full), "%s-%s.tgz" % (base, chart_version(full)))
            with tarfile.open(out, "w:gz") as tar:
                for dirpath, _, names in sorted(os.walk(full)):
                    for n in sorted(names):
                        p = os.path.join(dirpath, n)
                        tar.add(p, arcname=os.path.join(base, os.path.relpath(p, full)))
            subprocess.run(["rm", "-rf", full], check=True)
        elif h.startswith("args:"):
            runs.append(h[5:].strip())
    return runs


def run_helm(helm, args, cwd, home):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("HELM_") or k == "KUBECONFIG":
            del env[k]
    env.update({
        "HOME": home,
        "HELM_CACHE_HOME": os.path.join(home, "cache"),
        "HELM_CONFIG_HOME": os.path.join(home, "config"),
        "HELM_DATA_HOME": os.path.join(home, "data"),
        "KUBECONFIG": os.path.join(home, "kubeconfig"),
    })
    p = subprocess.run([helm, "template"] + shlex.split(args), cwd=cwd, env=env,
                       capture_output=True, text=True)
    if p.returncode == 0:
        return p.stdout
    err = p.stderr
    i = err.find("Error: ")
    return err[i:] if i >= 0 else "Error: " + err


def regen(d, only):
    helm = os.environ["HELM"]
    out_dir = os.path.join(d, "expected")
    os.makedirs(out_dir, exist_ok=True)
    helm4 = os.environ.get("HELM4")
    v4_diffs = []
    names = sorted(n[:-6] for n in os.listdir(d) if n.endswith(".txtar"))
    if only:
        names = [n for n in names if n in only]
    for name in names:
        with open(os.path.join(d, name + ".txtar")) as f:
            text = f.read()
        with tempfile.TemporaryDirectory() as tmp:
            work = os.path.join(tmp, "work")
            os.makedirs(work)
            runs = materialize(text, work)
            parts = []
            for args in runs:
                v3 = run_helm(helm, args, work, tmp)
                parts.append("#### %s\n%s" % (args, v3))
                if helm4:
                    v4 = run_helm(helm4, args, work, tmp)
                    if v4 != v3:
                        first = next(((i + 1, a, b) for i, (a, b) in
                                      enumerate(zip(v3.splitlines(), v4.splitlines())) if a != b),
                                     (0, "(%d bytes)" % len(v3), "(%d bytes)" % len(v4)))
                        v4_diffs.append("%s: %s\n  line %d\n  v3: %r\n  v4: %r\n" % ((name, args) + first))
        with open(os.path.join(out_dir, name + ".out"), "w") as f:
            f.write("".join(parts))
    if helm4 and not only:
        with open(os.path.join(out_dir, "helm4-differences.txt"), "w") as f:
            f.write("# Renders where Helm v4 (%s) prints something else than Helm v3\n" % os.path.basename(os.path.dirname(os.path.realpath(helm4))))
            f.write("# (written by `flux-dev corpus helm`; the corpus follows v3).\n")
            f.write("".join(v4_diffs))
        print("%d renders differ between Helm v3 and v4" % len(v4_diffs))
    print("%d cases written to %s" % (len(names), out_dir))


if __name__ == "__main__":
    if sys.argv[1] == "regen":
        regen(sys.argv[2], set(sys.argv[3:]))
