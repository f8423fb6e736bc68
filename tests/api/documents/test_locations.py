"""Location rules: file roots and internal addresses (SSRF)."""

from __future__ import annotations

import ipaddress

import pytest

from docserve.api.documents.fetch import DocumentFetcher
from docserve.api.documents.locations import is_forbidden_address, parse_location
from docserve.api.settings import Settings
from docserve.contract.errors import DocumentError, LocationRefusedError


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True), ("10.0.0.1", True), ("172.16.5.4", True), ("192.168.1.1", True),
        ("169.254.169.254", True), ("0.0.0.0", True), ("::1", True), ("fe80::1", True),
        ("fd00::1", True), ("::ffff:10.0.0.1", True), ("224.0.0.1", True), ("100.64.0.1", True),
        ("93.184.216.34", False), ("2606:4700::1111", False),
    ],
)
def test_internal_addresses(address, forbidden):
    assert is_forbidden_address(ipaddress.ip_address(address)) is forbidden


def test_private_hosts_can_be_allowed_explicitly(tmp_path):
    assert parse_location("http://10.0.0.1/a.pdf", [tmp_path], allow_private_hosts=True).host == "10.0.0.1"
    with pytest.raises(LocationRefusedError):
        parse_location("http://10.0.0.1/a.pdf", [tmp_path], allow_private_hosts=False)


def test_redirect_hops_are_checked_like_locations(tmp_path):
    fetcher = DocumentFetcher(Settings(data_dir=tmp_path))
    assert fetcher._next_hop("https://example.com/a", "/b") == "https://example.com/b"
    for target in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8000/", "http://[::1]/"):
        with pytest.raises(LocationRefusedError):
            fetcher._next_hop("https://example.com/a", target)
    with pytest.raises(LocationRefusedError, match="only http"):
        fetcher._next_hop("https://example.com/a", f"file://{tmp_path}/x")
    with pytest.raises(DocumentError):
        fetcher._next_hop("https://example.com/a", "gopher://example.com/")


def test_file_roots_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCSERVE_FILE_ROOTS", f"{tmp_path}/a:{tmp_path}/b")
    assert Settings().allowed_file_roots == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.delenv("DOCSERVE_FILE_ROOTS")
    assert Settings(data_dir=tmp_path).allowed_file_roots == [tmp_path / "inbox"]
