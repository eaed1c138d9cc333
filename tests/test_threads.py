"""The runtime commands run numpy's BLAS on one thread (a real subprocess, real threadpoolctl)."""

import json
import subprocess
import sys


def test_interactive_commands_limit_blas_to_one_thread(tmp_path):
    code = (
        "import json, sys\n"
        "from threadpoolctl import threadpool_info\n"
        "import desktop_app.cli.main as m\n"
        "def probe(args):\n"
        "    print(json.dumps([p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']))\n"
        "    return 0\n"
        "p = m.build_parser()\n"
        "sub = [a for a in p._actions if a.dest == 'command'][0]\n"
        "for name in ('verify', 'doctor'):\n"
        "    sub.choices[name].set_defaults(func=probe)\n"
        "m.build_parser = lambda: p\n"
        "sys.exit(m.main([sys.argv[1]] + sys.argv[2:]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "verify", "someone", "--image", "x.png"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert counts and all(n == 1 for n in counts)
