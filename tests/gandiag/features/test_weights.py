"""Weight resolution order, hash checks, offline messages and state-dict checks (small fake files)."""
import hashlib

import pytest
import torch

from gandiag.errors import GandiagError
from gandiag.features import weights as W
from gandiag.features.inception import FID_WEIGHTS

PAYLOAD = b"published weights bytes"


@pytest.fixture
def spec():
    return W.WeightsSpec(filename="net-1234abcd.pth", url="https://example.invalid/net-1234abcd.pth",
                         sha256=hashlib.sha256(PAYLOAD).hexdigest(), env_var="GANDIAG_TEST_WEIGHTS",
                         aliases=("other-name.pth",))


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv("GANDIAG_TEST_WEIGHTS", raising=False)
    return tmp_path / "torch_home" / "hub" / "checkpoints"


def _write(path, data=PAYLOAD):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_offline_error_names_file_hash_url_and_place(spec, hub):
    with pytest.raises(GandiagError) as err:
        W.resolve_weights(spec)
    msg = str(err.value)
    for part in (spec.filename, spec.sha256, spec.url, str(hub / spec.filename), "GANDIAG_TEST_WEIGHTS",
                 "--allow-download"):
        assert part in msg


def test_published_inception_spec_is_the_pytorch_fid_file():
    assert FID_WEIGHTS.url.endswith("/pt_inception-2015-12-05-6726825d.pth")
    # torch.hub's convention: the 8 hex digits in the file name start the sha256.
    assert FID_WEIGHTS.sha256.startswith("6726825d") and len(FID_WEIGHTS.sha256) == 64
    assert FID_WEIGHTS.env_var == "GANDIAG_INCEPTION_WEIGHTS"


def test_resolution_order_argument_env_cache(spec, hub, tmp_path, monkeypatch):
    cached = _write(hub / spec.filename)
    assert W.resolve_weights(spec).found_by == "torch-hub-cache"
    env_file = _write(tmp_path / "env" / "copy.pth")
    monkeypatch.setenv("GANDIAG_TEST_WEIGHTS", str(env_file))
    got = W.resolve_weights(spec)
    assert got.found_by == "env:GANDIAG_TEST_WEIGHTS" and got.path == env_file and got.published
    explicit = _write(tmp_path / "mine.pth", b"my fine-tuned weights")
    got = W.resolve_weights(spec, explicit)
    assert got.found_by == "argument" and got.path == explicit and not got.published
    assert got.sha256 == hashlib.sha256(b"my fine-tuned weights").hexdigest()
    assert cached.exists()


def test_alias_name_in_cache_is_found(spec, hub):
    _write(hub / "other-name.pth")
    assert W.resolve_weights(spec).path.name == "other-name.pth"


def test_wrong_hash_in_cache_is_refused_with_both_remedies(spec, hub, tmp_path, monkeypatch):
    _write(hub / spec.filename, b"damaged")
    with pytest.raises(GandiagError, match=r"found via torch-hub-cache\) has sha256 [0-9a-f]{64}, but the published"
                       r".*your own network, pass it with --weights PATH \(or GANDIAG_TEST_WEIGHTS=PATH\).*"
                       r"'unpublished weights'.*download https://example.invalid/net-1234abcd.pth again"):
        W.resolve_weights(spec)
    monkeypatch.setenv("GANDIAG_TEST_WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(GandiagError, match="GANDIAG_TEST_WEIGHTS=.*does not name an existing file"):
        W.resolve_weights(spec)


def test_missing_explicit_path(spec, hub, tmp_path):
    with pytest.raises(GandiagError, match=r"weights file .*nope.pth does not exist \(from weights=/--weights\)"):
        W.resolve_weights(spec, tmp_path / "nope.pth")


def test_download_only_when_allowed_and_hash_checked(spec, hub, monkeypatch):
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append(url)
        _write(__import__("pathlib").Path(dst), fake_download.payload)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    fake_download.payload = b"tampered"
    with pytest.raises(GandiagError, match="refusing to use it"):
        W.resolve_weights(spec, allow_download=True)
    assert not (hub / spec.filename).exists()  # a bad download never lands in the cache
    fake_download.payload = PAYLOAD
    got = W.resolve_weights(spec, allow_download=True)
    assert got.found_by == "download" and got.path == hub / spec.filename and got.published
    assert calls == [spec.url, spec.url]


def test_state_dict_checks(tmp_path):
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    expected = net.state_dict()
    good = {k: v for k, v in expected.items() if not k.endswith("num_batches_tracked")}
    filled = W.check_state_dict(good, expected, "f.pth", "test")
    assert "1.num_batches_tracked" in filled  # old files without it still load
    with pytest.raises(GandiagError, match=r"keys do not match \(1 missing \(e.g. 0.weight\)"):
        W.check_state_dict({k: v for k, v in good.items() if k != "0.weight"}, expected, "f.pth", "test")
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(GandiagError, match="is not a state dict of tensors"):
        W.load_state_dict(path, "test")
    junk = _write(tmp_path / "junk.pth", b"not a torch file")
    with pytest.raises(GandiagError, match="cannot read test weights from .*junk.pth"):
        W.load_state_dict(junk, "test")
    torch.save({"state_dict": good}, tmp_path / "ckpt.pth")
    assert set(W.load_state_dict(tmp_path / "ckpt.pth", "test")) == set(good)


@pytest.mark.parametrize("how", ["argument", "env"])
@pytest.mark.parametrize("name", ["net-1234abcd.pth", "other-name.pth", "mine.pth"])
def test_one_rule_for_argument_and_env_any_name_is_used_and_marked(spec, hub, tmp_path, monkeypatch, how, name):
    own = _write(tmp_path / "own" / name, b"my own network")
    if how == "env":
        monkeypatch.setenv("GANDIAG_TEST_WEIGHTS", str(own))
        got = W.resolve_weights(spec)
        assert got.found_by == "env:GANDIAG_TEST_WEIGHTS"
    else:
        got = W.resolve_weights(spec, own)
        assert got.found_by == "argument"
    assert got.path == own and not got.published and got.marker == "unpublished weights"
    if name == "mine.pth":
        assert got.note == ""
    else:  # named like the published file: say so, and both remedies
        assert "named like the published net-1234abcd.pth" in got.note and "Rename it" in got.note
        assert "download https://example.invalid/net-1234abcd.pth again" in got.note


@pytest.mark.parametrize("how", ["argument", "env"])
def test_published_bytes_under_any_name_are_published(spec, hub, tmp_path, monkeypatch, how):
    copy = _write(tmp_path / "renamed.bin")
    if how == "env":
        monkeypatch.setenv("GANDIAG_TEST_WEIGHTS", str(copy))
        got = W.resolve_weights(spec)
    else:
        got = W.resolve_weights(spec, copy)
    assert got.published and got.marker == "" and got.note == ""
