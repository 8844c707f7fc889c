"""The package `cargo xtask package` writes: layout, permissions and the binary."""

import gzip
import re
import shutil
import subprocess
import tarfile

import pytest

APP = "aidetect"
BINARY = f"{APP}/linux_x86_64/bin/aidetect"
MAX_GLIBC = (2, 17)


def members(package):
    with tarfile.open(package) as tar:
        return tar.getmembers()


def test_package_is_plain_ustar(package):
    """Every header is POSIX ustar: no GNU long names, no pax extensions."""
    data = gzip.decompress(package.read_bytes())
    offset, headers = 0, 0
    while offset + 512 <= len(data) and data[offset:offset + 512] != bytes(512):
        block = data[offset:offset + 512]
        assert block[257:263] == b"ustar\x00" and block[263:265] == b"00", block[:100]
        assert block[156:157] in (b"0", b"5"), f"type {block[156:157]!r} for {block[:100]!r}"
        size = int(block[124:136].rstrip(b"\x00 ") or b"0", 8)
        offset += 512 + (size + 511) // 512 * 512
        headers += 1
    assert headers == len(members(package))


def test_package_has_one_top_folder_named_after_the_app(package):
    tops = {m.name.split("/")[0] for m in members(package)}
    assert tops == {APP}


def test_package_has_no_dotfiles_no_local_and_numeric_root_owner(package):
    for m in members(package):
        parts = m.name.rstrip("/").split("/")
        assert not any(p.startswith(".") for p in parts), m.name
        assert "local" not in parts and parts[-1] != "local.meta", m.name
        assert (m.uid, m.gid) == (0, 0), m.name


def test_files_are_owner_writable_and_only_bin_folders_hold_executables(package):
    for m in members(package):
        if m.isdir():
            assert m.mode == 0o755, (m.name, oct(m.mode))
            continue
        assert m.isfile(), m.name
        assert m.mode & 0o600 == 0o600, (m.name, oct(m.mode))
        parent = m.name.rsplit("/", 2)[-2]
        if m.mode & 0o111:
            assert parent == "bin", (m.name, oct(m.mode))
    binary = next(m for m in members(package) if m.name == BINARY)
    assert binary.mode == 0o755


def test_package_holds_the_app_files(package):
    names = {m.name for m in members(package)}
    for need in ("default/app.conf", "default/commands.conf", "default/searchbnf.conf",
                 "default/savedsearches.conf", "default/macros.conf", "default/transforms.conf",
                 "default/data/ui/views/aidetect_overview.xml", "default/data/ui/nav/default.xml",
                 "lookups/aidetect_services.csv", "lookups/aidetect_allowlist.csv",
                 "metadata/default.meta", "app.manifest", "README.md", "linux_x86_64/bin/aidetect"):
        assert f"{APP}/{need}" in names, need


def test_binary_is_x86_64_elf(extracted):
    head = (extracted / "linux_x86_64/bin/aidetect").read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 2  # ELF64
    assert int.from_bytes(head[18:20], "little") == 62  # EM_X86_64


def test_binary_needs_no_glibc_symbol_newer_than_2_17(extracted):
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.fail("objdump is missing: install binutils (app/check.sh does)")
    out = subprocess.run([objdump, "-T", str(extracted / "linux_x86_64/bin/aidetect")],
                         check=True, capture_output=True, text=True).stdout
    versions = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", out)}
    assert versions, "no GLIBC_ symbol versions found: is the binary dynamically linked against glibc?"
    newest = max(versions)
    print(f"newest GLIBC_ symbol version: {'.'.join(map(str, newest))} (limit 2.17)")
    assert newest <= MAX_GLIBC, sorted(versions)


def test_binary_runs_and_reports_the_package_version(extracted, package):
    out = subprocess.run([str(extracted / "linux_x86_64/bin/aidetect"), "--version"],
                         check=True, capture_output=True, text=True).stdout
    version = re.search(r"-(\d[^/]*)\.tgz$", package.name).group(1)
    assert out.strip() == f"aidetect {version}"
