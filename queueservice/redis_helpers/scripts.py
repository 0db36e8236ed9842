"""Lua scripts kept as `.lua` files, registered once per client and called by name."""

from __future__ import annotations

from pathlib import Path

from redis.exceptions import NoScriptError

SHARED_LUA = Path(__file__).with_name("lua")


class Scripts:
    """Every `*.lua` in a folder, registered with one Redis client (EVALSHA, loaded on demand).

    Files whose names start with `_` are preludes of shared helpers, prepended to each script,
    after the preludes every store shares (redis_helpers/lua: the clock).
    """

    def __init__(self, client, folder: Path):
        self._client = client
        self._scripts = {}
        paths = sorted(Path(folder).glob("*.lua"))
        shared = sorted(SHARED_LUA.glob("_*.lua"))
        prelude = "".join(p.read_text(encoding="utf-8") + "\n"
                          for p in shared + [p for p in paths if p.name.startswith("_")])
        for path in paths:
            if not path.name.startswith("_"):
                source = prelude + path.read_text(encoding="utf-8")
                self._scripts[path.stem] = client.register_script(source)
        if not self._scripts:
            raise FileNotFoundError(f"no Lua scripts in {folder}")

    def names(self):
        return sorted(self._scripts)

    def script(self, name: str):
        """The registered script object, for use in a pipeline (`script(keys, args, client=pipe)`)."""
        return self._scripts[name]

    def run(self, name: str, keys, args):
        """Run script `name` with KEYS and ARGV; one round trip (EVALSHA).

        What redis-py's Script.__call__ does for a client, without its per-call import and
        copies (about 5 µs): EVALSHA, and should Redis not know the script (flushed, restarted),
        SCRIPT LOAD and EVALSHA again."""
        script = self._scripts[name]
        try:
            return self._client.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:
            script.sha = self._client.script_load(script.script)
            return self._client.evalsha(script.sha, len(keys), *keys, *args)
