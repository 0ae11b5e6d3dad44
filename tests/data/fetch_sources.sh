#!/usr/bin/env bash
# Fetch the project's real test imagery from PyPI (never committed).
#
#   sahi==0.12.8 (sdist)       -> sahi-0.12.8/demo/demo_data/obb_test_image.png  (a JPEG, despite the name)
#   deepforest==2.1.0 (wheel)  -> deepforest/data/OSBS_029.tif, deepforest/data/OSBS_029.csv
#
# Archives land in .cache/pypi/, the extracted files in .cache/pypi/files/ (both gitignored).
# Idempotent: an archive or file already present with the pinned sha256 is not fetched again;
# a mismatching one is deleted and fetched again once, then the script fails loudly.
#
# Usage: bash tests/data/fetch_sources.sh          (PYTHON=... to pick the interpreter whose pip is used)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$root/.cache/pypi"
files="$cache/files"
py="${PYTHON:-python3}"

# Pinned sha256 of the archives (as published on PyPI) and of the extracted files.
SAHI_SPEC="sahi==0.12.8"
SAHI_ARCHIVE="sahi-0.12.8.tar.gz"
SAHI_ARCHIVE_SHA256="f2074b3b3aa0f655dbdd69fbb1f1a0b985220f5fb3d920a4206eba160d37028a"
DF_SPEC="deepforest==2.1.0"
DF_ARCHIVE="deepforest-2.1.0-py3-none-any.whl"
DF_ARCHIVE_SHA256="8c2798d8e9be7f0004b194fe207b76c1d9fff6e711b3db67b9508dcd5d00ae54"

mkdir -p "$cache" "$files"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_archive SPEC FILE SHA256 [extra pip args...]
fetch_archive() {
    local spec="$1" file="$2" want="$3"; shift 3
    local path="$cache/$file"
    local attempt
    for attempt in 1 2; do
        if [[ -f "$path" ]]; then
            local got; got="$(sha256_of "$path")"
            if [[ "$got" == "$want" ]]; then
                echo "ok      $file (sha256 $want)"
                return 0
            fi
            echo "MISMATCH $file: sha256 $got, expected $want; deleting" >&2
            rm -f "$path"
        fi
        [[ $attempt == 2 ]] && break
        echo "fetch   $spec -> .cache/pypi/$file"
        # --no-deps: only the archive itself. Downloaded into a private temp dir so that a
        # partial download never looks like a finished one.
        local tmp; tmp="$(mktemp -d "$cache/.dl.XXXXXX")"
        "$py" -m pip download --quiet --disable-pip-version-check --no-deps "$@" -d "$tmp" "$spec"
        if [[ ! -f "$tmp/$file" ]]; then
            echo "pip did not produce $file (got: $(ls "$tmp"))" >&2
            rm -rf "$tmp"
            return 1
        fi
        mv -f "$tmp/$file" "$path"
        rm -rf "$tmp"
    done
    echo "FAILED: $file does not have the pinned sha256 $want" >&2
    return 1
}

fetch_archive "$SAHI_SPEC" "$SAHI_ARCHIVE" "$SAHI_ARCHIVE_SHA256" --no-binary :all:
fetch_archive "$DF_SPEC" "$DF_ARCHIVE" "$DF_ARCHIVE_SHA256" --only-binary :all:

# Extract just the files we need, verify them, write atomically.
"$py" - "$cache" "$files" <<'EOF'
import hashlib, os, sys, tarfile, zipfile

cache, files = sys.argv[1], sys.argv[2]
WANT = [
    # (archive, member, output name, sha256)
    ("sahi-0.12.8.tar.gz", "sahi-0.12.8/demo/demo_data/obb_test_image.png", "obb_test_image.png",
     "8c5ada657cf8110a9f8aaac954c1dd96cde0187315b581276c32b0d1863e756f"),
    ("deepforest-2.1.0-py3-none-any.whl", "deepforest/data/OSBS_029.tif", "OSBS_029.tif",
     "8521dbb5e8063d37d61895867dfcca7476491d1345103dc1b3fd96f71b186353"),
    ("deepforest-2.1.0-py3-none-any.whl", "deepforest/data/OSBS_029.csv", "OSBS_029.csv",
     "83ecd1fb6339eb0997c5a543300295fdd6e0d23c943f50429eb82d149905adba"),
]

def sha(data):
    return hashlib.sha256(data).hexdigest()

def read_member(archive, member):
    path = os.path.join(cache, archive)
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            return z.read(member)
    with tarfile.open(path) as t:
        f = t.extractfile(t.getmember(member))
        return f.read()

bad = 0
for archive, member, name, want in WANT:
    out = os.path.join(files, name)
    if os.path.exists(out):
        with open(out, "rb") as f:
            if sha(f.read()) == want:
                print(f"ok      files/{name}")
                continue
    data = read_member(archive, member)
    got = sha(data)
    if got != want:
        print(f"MISMATCH {archive}:{member}: sha256 {got}, expected {want}", file=sys.stderr)
        bad += 1
        continue
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    print(f"extract files/{name} ({len(data)} bytes) from {archive}")
sys.exit(1 if bad else 0)
EOF
