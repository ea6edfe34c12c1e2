"""The deploy/ stack, validated with real tools: promtool, Prometheus and the OTel exporter.

Docker does not run where these tests run, so docker-compose.yml is checked by a YAML
parse and a schema-light test instead of ``docker compose up`` (see deploy/README.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_server import PrometheusError, PrometheusServer
from promql import (
    DASHBOARDS_DIR,
    DEPLOY_DIR,
    PROMETHEUS_CONFIG,
    all_expressions,
    dashboard_expressions,
    metric_names,
    rule_expressions,
    rule_files,
    substitute_variables,
    vector_selectors,
)

pytestmark = pytest.mark.e2e

REPO_ROOT = DEPLOY_DIR.parent
COMPOSE_FILE = DEPLOY_DIR / "docker-compose.yml"
COLLECTOR_FILE = DEPLOY_DIR / "otel-collector.yaml"
RULES_FILE = DEPLOY_DIR / "prometheus" / "rules" / "flext-alerts.yml"
RULES_TEST_FILE = DEPLOY_DIR / "prometheus" / "rules" / "flext-alerts.test.yml"
DATASOURCES_FILE = DEPLOY_DIR / "grafana" / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS_FILE = DEPLOY_DIR / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARD_FILE = DASHBOARDS_DIR / "flext-overview.json"
README_FILE = DEPLOY_DIR / "README.md"

EXPECTED_SERVICES = {"demo", "otel-collector", "prometheus", "grafana", "jaeger"}
EXPECTED_ALERTS = {
    "FlextFunctionErrorRatioHigh",
    "FlextFunctionLatencyP95High",
    "FlextComponentUnhealthy",
    "FlextPipelineDropping",
    "FlextCriticalAlerts",
}
PORT_SPEC = re.compile(
    r"^(?:(?P<ip>\d{1,3}(?:\.\d{1,3}){3}):)?(?:(?P<host>\d+):)?(?P<container>\d+)(?:/(?:tcp|udp))?$"
)


@cache
def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _yaml(COMPOSE_FILE)["services"]
    return services


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return dashboard


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _container_ports(service: dict[str, Any]) -> set[int]:
    """Ports a service listens on inside the compose network (published or exposed)."""
    ports: set[int] = set()
    for spec in service.get("ports", []):
        match = PORT_SPEC.match(str(spec))
        assert match, spec
        ports.add(int(match["container"]))
    ports.update(int(str(p).split("/")[0]) for p in service.get("expose", []))
    return ports


def _host_port(address: str) -> tuple[str, int]:
    """``host:port`` or a URL -> (host, port)."""
    parsed = urlsplit(address if "://" in address else f"tcp://{address}")
    assert parsed.hostname, address
    assert parsed.port, address
    return parsed.hostname, parsed.port


def _assert_reaches_service(address: str, where: str) -> None:
    services = _services()
    host, port = _host_port(address)
    assert host in services, f"{where}: {address} names no compose service"
    listening = _container_ports(services[host])
    assert port in listening, f"{where}: {host} does not listen on {port} ({sorted(listening)})"


# -- promtool ----------------------------------------------------------------------------


def test_promtool_check_config_accepts_prometheus_yml(promtool: str) -> None:
    """promtool accepts prometheus.yml and the rule files it loads."""
    done = _run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid prometheus config file syntax" in done.stdout
    assert f"{len(rule_files())} rule files found" in done.stdout


def test_promtool_check_rules_accepts_the_alert_rules(promtool: str) -> None:
    """promtool check rules finds all five flext alert rules valid."""
    done = _run(promtool, "check", "rules", str(RULES_FILE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in done.stdout


def test_promtool_unit_tests_of_the_alert_rules_pass(promtool: str) -> None:
    """promtool test rules passes the unit tests in flext-alerts.test.yml."""
    done = _run(promtool, "test", "rules", str(RULES_TEST_FILE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_catch_a_broken_rule(promtool: str, tmp_path: Path) -> None:
    """The unit tests fail when a rule's threshold is changed (they are not vacuous)."""
    broken = RULES_FILE.read_text().replace(") > 0.05", ") > 0.9")
    assert broken != RULES_FILE.read_text()
    (tmp_path / RULES_FILE.name).write_text(broken)
    (tmp_path / RULES_TEST_FILE.name).write_text(RULES_TEST_FILE.read_text())
    done = _run(promtool, "test", "rules", str(tmp_path / RULES_TEST_FILE.name))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FlextFunctionErrorRatioHigh" in done.stdout + done.stderr


def test_every_alert_rule_has_firing_and_quiet_unit_tests() -> None:
    """Each alert rule has a promtool case where it fires and one where it does not."""
    alerts = {source.rsplit(" ", 1)[1] for source, _ in rule_expressions()}
    assert alerts == EXPECTED_ALERTS
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in _yaml(RULES_TEST_FILE)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing == EXPECTED_ALERTS
    assert quiet == EXPECTED_ALERTS


def test_alert_rules_carry_severity_and_annotations() -> None:
    """Every alert has a severity label and summary/description annotations."""
    for group in _yaml(RULES_FILE)["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"], rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


# -- docker-compose.yml ------------------------------------------------------------------


def test_compose_defines_the_five_services() -> None:
    """The stack has the demo app, collector, Prometheus, Grafana and Jaeger."""
    assert set(_services()) == EXPECTED_SERVICES


def test_compose_images_are_pinned() -> None:
    """Every image carries an explicit version tag, never latest."""
    for name, service in _services().items():
        image = service.get("image")
        assert image, f"{name} has no image"
        repository, sep, tag = image.rpartition(":")
        assert sep, f"{name}: {image} has no tag"
        assert repository, f"{name}: {image} has no repository"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
        assert re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"


def test_compose_uses_the_expected_images() -> None:
    """Collector contrib, prom/prometheus, grafana and jaeger all-in-one with OTLP on."""
    images = {name: s["image"].rpartition(":")[0] for name, s in _services().items()}
    assert images["otel-collector"] == "otel/opentelemetry-collector-contrib"
    assert images["prometheus"] == "prom/prometheus"
    assert images["grafana"] == "grafana/grafana"
    assert images["jaeger"] == "jaegertracing/all-in-one"
    assert _services()["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def test_compose_ports_are_well_formed_and_loopback_only() -> None:
    """Ports are strings or ints; published ones bind 127.0.0.1."""
    for name, service in _services().items():
        for spec in service.get("ports", []):
            assert isinstance(spec, (str, int)), (name, spec)
            assert not isinstance(spec, bool), (name, spec)
            match = PORT_SPEC.match(str(spec))
            assert match, f"{name}: malformed port {spec!r}"
            assert match["ip"] == "127.0.0.1", f"{name}: {spec!r} is not bound to loopback"
            assert 0 < int(match["container"]) < 65536


def test_compose_bind_mounts_point_at_files_in_deploy() -> None:
    """Every relative bind mount exists under deploy/ and mounts to an absolute path."""
    mounts = 0
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            assert isinstance(volume, str), (name, volume)
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
            assert target.startswith("/"), f"{name}: {volume}"
            if source.startswith("."):
                mounts += 1
                path = (DEPLOY_DIR / source).resolve()
                assert path.exists(), f"{name}: {source} does not exist"
                assert DEPLOY_DIR in (path, *path.parents), f"{name}: {source} is outside deploy/"
    assert mounts >= 4


def test_compose_build_context_and_dockerfile_copy_sources_exist() -> None:
    """The demo image builds from the repo root with deploy/Dockerfile; COPY sources exist."""
    build = _services()["demo"]["build"]
    context = (DEPLOY_DIR / build["context"]).resolve()
    assert context == REPO_ROOT
    dockerfile = context / build["dockerfile"]
    assert dockerfile.is_file()
    text = dockerfile.read_text()
    assert re.search(r"^FROM \S+:\d[\w.-]*", text, re.MULTILINE), "base image not pinned"
    assert "pip install '.[all]'" in text
    copies = re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE)
    assert copies
    for line in copies:
        *sources, _destination = line.split()
        for source in sources:
            assert (context / source).exists(), f"COPY source {source} missing"


def test_compose_demo_command_is_accepted_by_the_cli() -> None:
    """The demo service's command parses with flext-otel's own CLI and serves /metrics."""
    from flext_otel.cli.main import build_parser
    from flext_otel.pipeline.options import resolve_options

    demo = _services()["demo"]
    command = [str(part) for part in demo["command"]]
    assert command[0] == "flext-otel"
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert re.search(r'^flext-otel\s*=\s*"flext_otel\.cli:main"', pyproject, re.MULTILINE)
    args = build_parser().parse_args(command[1:])
    assert args.command == "demo"
    assert args.forever
    _assert_reaches_service(args.otlp_endpoint, "demo --otlp-endpoint")
    environment = {k: str(v) for k, v in demo.get("environment", {}).items()}
    options = resolve_options(environ=environment, prometheus_port=args.prometheus_port)
    assert options.prometheus_host == "0.0.0.0"
    assert options.prometheus_port in _container_ports(demo)


def test_compose_demo_command_fails_on_an_unknown_flag() -> None:
    """The CLI check above would catch a flag the CLI does not know."""
    from flext_otel.cli.main import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--no-such-flag"])


def test_every_address_between_services_names_a_listening_service() -> None:
    """Scrape targets, exporter endpoints and datasource URLs reach a service on its port."""
    checked = 0
    for job in _yaml(PROMETHEUS_CONFIG)["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                if not target.startswith("localhost:"):
                    _assert_reaches_service(target, f"scrape job {job['job_name']}")
                    checked += 1
    for name, exporter in _yaml(COLLECTOR_FILE)["exporters"].items():
        if exporter and "endpoint" in exporter and not exporter["endpoint"].startswith("0.0.0.0"):
            _assert_reaches_service(exporter["endpoint"], f"collector exporter {name}")
            checked += 1
    for source in _yaml(DATASOURCES_FILE)["datasources"]:
        _assert_reaches_service(source["url"], f"datasource {source['name']}")
        checked += 1
    assert checked >= 5


def test_prometheus_scrapes_the_collector_and_the_app() -> None:
    """prometheus.yml scrapes the collector's :8889 and the demo's /metrics on :9464."""
    targets = {
        target
        for job in _yaml(PROMETHEUS_CONFIG)["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert {"otel-collector:8889", "demo:9464"} <= targets
    assert _yaml(PROMETHEUS_CONFIG)["rule_files"]


def test_prometheus_mount_holds_config_and_rules() -> None:
    """The prometheus service mounts the directory its --config.file and rules live in."""
    service = _services()["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in service["command"]
    assert "./prometheus:/etc/prometheus:ro" in service["volumes"]


# -- otel-collector.yaml -----------------------------------------------------------------


def test_collector_pipelines_reference_defined_components() -> None:
    """Each pipeline uses only defined receivers, processors and exporters, and all are used."""
    config = _yaml(COLLECTOR_FILE)
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    pipelines = config["service"]["pipelines"]
    for pipeline_name, pipeline in pipelines.items():
        assert pipeline_name.split("/")[0] in {"traces", "metrics", "logs"}
        assert pipeline["receivers"], pipeline_name
        assert pipeline["exporters"], pipeline_name
        for kind, names in used.items():
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{pipeline_name}: undefined {kind} {component}"
                names.add(component)
    for kind, names in used.items():
        assert names == set(config[kind]), f"defined but unused {kind}: {set(config[kind]) - names}"
    assert set(config["service"]["extensions"]) == set(config["extensions"])


def test_collector_routes_each_signal_as_designed() -> None:
    """Traces go to Jaeger over OTLP, metrics to the Prometheus exporter, logs to debug."""
    config = _yaml(COLLECTOR_FILE)
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp/jaeger"]
    assert pipelines["metrics"]["exporters"] == ["prometheus"]
    assert pipelines["logs"]["exporters"] == ["debug"]
    assert all(p["processors"][-1] == "batch" for p in pipelines.values())
    assert config["receivers"]["otlp"]["protocols"].keys() == {"grpc", "http"}
    assert "health_check" in config["extensions"]


def test_collector_listeners_bind_all_interfaces_on_published_ports() -> None:
    """Receivers, health_check and the Prometheus exporter listen on 0.0.0.0 ports the
    compose service declares."""
    config = _yaml(COLLECTOR_FILE)
    listeners = [
        *(p["endpoint"] for p in config["receivers"]["otlp"]["protocols"].values()),
        config["extensions"]["health_check"]["endpoint"],
        config["exporters"]["prometheus"]["endpoint"],
    ]
    ports = _container_ports(_services()["otel-collector"])
    for endpoint in listeners:
        host, port = _host_port(endpoint)
        assert host == "0.0.0.0", endpoint
        assert port in ports, endpoint
    mount = f"./{COLLECTOR_FILE.name}:/etc/otelcol-contrib/config.yaml:ro"
    assert mount in _services()["otel-collector"]["volumes"]


# -- Grafana -----------------------------------------------------------------------------


def test_grafana_datasources_are_prometheus_and_jaeger() -> None:
    """Provisioned datasources: Prometheus (default) and Jaeger, with the uids dashboards use."""
    sources = {s["uid"]: s for s in _yaml(DATASOURCES_FILE)["datasources"]}
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["prometheus"]["isDefault"] is True
    assert sources["jaeger"]["type"] == "jaeger"


def test_grafana_dashboard_provider_path_matches_the_mount() -> None:
    """The dashboard provider reads the directory compose mounts grafana/dashboards into."""
    providers = _yaml(DASHBOARD_PROVIDERS_FILE)["providers"]
    volumes = _services()["grafana"]["volumes"]
    mounted = {v.split(":")[1] for v in volumes if v.startswith("./grafana/dashboards:")}
    assert {p["options"]["path"] for p in providers} == mounted
    assert any(v.startswith("./grafana/provisioning:/etc/grafana/provisioning") for v in volumes)


def test_dashboard_panels_have_a_datasource_and_an_expression() -> None:
    """Every panel names a provisioned datasource and has at least one target with an expr."""
    uids = {s["uid"] for s in _yaml(DATASOURCES_FILE)["datasources"]}
    dashboard = _dashboard()
    assert dashboard["uid"] == "flext-overview"
    panels = dashboard["panels"]
    assert len(panels) >= 6
    for panel in panels:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        exprs = [t.get("expr", "").strip() for t in panel["targets"]]
        assert exprs, panel["title"]
        assert all(exprs), panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] in uids


def test_dashboard_covers_the_required_views() -> None:
    """Call rate, error ratio, p50/p95/p99, health, alerts and pipeline panels read our metrics."""
    panels = [
        (source.split(" panel ", 1)[1].rsplit(" target ", 1)[0].strip("'"), expr)
        for source, expr in dashboard_expressions([DASHBOARD_FILE])
        if " panel " in source
    ]
    quantiles = [e for title, e in panels if title == "Function duration p50 / p95 / p99"]
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(e.startswith(f"histogram_quantile({quantile}, ") for e in quantiles)
    (error_ratio,) = [e for title, e in panels if title == "Error ratio"]
    assert 'outcome="error"' in error_ratio
    assert "\n/\n" in error_ratio
    assert {name for _, expr in panels for name in metric_names(expr)} == {
        "flext_function_calls_total",
        "flext_function_duration_seconds_bucket",
        "flext_health_status",
        "flext_alerts_total",
        "flext_pipeline_exported_total",
        "flext_pipeline_dropped_total",
    }


# -- promql.py ---------------------------------------------------------------------------


def test_all_expressions_cover_every_dashboard_target_and_rule() -> None:
    """all_expressions() returns each dashboard target, variable query and rule, substituted."""
    expressions = all_expressions()
    targets = sum(len(p["targets"]) for p in _dashboard()["panels"])
    rules = sum(len(g["rules"]) for g in _yaml(RULES_FILE)["groups"])
    variables = len(_dashboard()["templating"]["list"])
    assert len(expressions) == targets + rules + variables
    assert len({source for source, _ in expressions}) == len(expressions)
    for source, expr in expressions:
        assert "$" not in expr.replace("$1", ""), source
        assert expr, source
        assert expr == expr.strip(), source


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rate(x[$__rate_interval])", "rate(x[1m])"),
        ("rate(x[${__interval}])", "rate(x[1m])"),
        ("x offset $__range", "x offset 1m"),
        ('x{job=~"$job"}', 'x{job=~".+"}'),
        ('x{job=~"${job:regex}"}', 'x{job=~".+"}'),
        ('x{job=~"[[job]]"}', 'x{job=~".+"}'),
        ('label_replace(x, "a", "$1", "b", "(.*)")', 'label_replace(x, "a", "$1", "b", "(.*)")'),
    ],
)
def test_substitute_variables_yields_plain_promql(text: str, expected: str) -> None:
    """Grafana variables become literals; regex back-references stay."""
    assert substitute_variables(text, {"job": ".+"}) == expected


@pytest.mark.parametrize("text", ['x{a="$unknown"}', "rate(x[$__nope])", 'x{a="${other:csv}"}'])
def test_substitute_variables_rejects_unknown_variables(text: str) -> None:
    """An unknown variable is an error, not a silently broken query."""
    with pytest.raises(ValueError, match="template variable"):
        substitute_variables(text, {"job": ".+"})


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", ["up"]),
        ('sum by (job) (rate(a_total{x="1"}[5m]))', ['a_total{x="1"}']),
        ("sum(rate(a[1m])) by (le) / on(job) group_left(b) c", ["a", "c"]),
        (
            'histogram_quantile(0.9, sum without (i) (rate(h_bucket{le!="+Inf"}[5m])))',
            ['h_bucket{le!="+Inf"}'],
        ),
        ("a unless a offset 5m", ["a"]),
        ("a offset -1h and b @ 1609746000", ["a", "b"]),
        ("c @ start() > bool Inf", ["c"]),
        (
            '{__name__="x:y", job="j"} or ns:rule:rate5m',
            ['{__name__="x:y", job="j"}', "ns:rule:rate5m"],
        ),
        ('count_values("v", m) # a comment with_a_name', ["m"]),
        ('label_replace(q{a="}{"}, "d", "$1", "s", "(.*)")', ['q{a="}{"}']),
        ("vector(1) + time() - scalar(z)", ["z"]),
        ("max_over_time(deriv(g[5m])[30m:1m])", ["g"]),
        ("topk(3, sum by (f) (calls_total)) * 1e3 + 0x1f", ["calls_total"]),
    ],
)
def test_vector_selectors_finds_only_selectors(expr: str, expected: list[str]) -> None:
    """The PromQL lexer returns the selectors, not functions, keywords or label lists."""
    assert vector_selectors(expr) == expected


def test_metric_names_reads_names_and_name_matchers() -> None:
    """metric_names() covers plain names and {__name__="..."} selectors."""
    assert metric_names('a_total{x="1"} / {__name__="b", y="2"} + a_total') == ["a_total", "b"]


# -- against a real Prometheus -----------------------------------------------------------


def test_prometheus_reports_a_parse_error(prometheus: PrometheusServer) -> None:
    """A malformed expression comes back as status error (the parse check can fail)."""
    answer = prometheus.query("sum(rate(flext_function_calls_total[1m])")
    assert answer["status"] == "error"
    assert answer["errorType"] == "bad_data"
    with pytest.raises(PrometheusError):
        prometheus.wait_for("sum(", timeout=1.0)


@pytest.mark.parametrize(
    ("source", "expr"), all_expressions(), ids=[s for s, _ in all_expressions()]
)
def test_every_expression_parses_in_prometheus(
    prometheus: PrometheusServer, source: str, expr: str
) -> None:
    """Each dashboard and rule expression, and each selector in it, is valid PromQL."""
    for query in (expr, *vector_selectors(expr)):
        answer = prometheus.query(query)
        assert answer["status"] == "success", f"{source}: {answer.get('error')}\n{query}"


# -- metric names: README table, real OTel exporter, dashboard and rules agree ------------


class MetricRow(NamedTuple):
    instrument: str
    kind: str
    unit: str
    attributes: tuple[str, ...]
    series: tuple[str, ...]


def _readme_metric_rows() -> list[MetricRow]:
    section = README_FILE.read_text().split("## Metric names", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        instrument, kind, unit, attributes, series = cells
        rows.append(
            MetricRow(
                instrument.strip("`"),
                kind,
                unit.strip("`"),
                tuple(a.strip() for a in attributes.split(",") if a.strip()),
                tuple(re.findall(r"`([^`]+)`", series)),
            )
        )
    return rows


SAMPLE_ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "function": ("shop.checkout", "shop.price"),
    "outcome": ("success", "error"),
    "component": ("db", "cache"),
    "severity": ("critical", "low"),
    "status": ("active",),
    "signal": ("traces", "logs"),
    "exporter": ("otlp",),
    "reason": ("queue_full",),
}


def _attribute_sets(names: tuple[str, ...]) -> Iterator[dict[str, str]]:
    combos: list[dict[str, str]] = [{}]
    for name in names:
        combos = [{**c, name: v} for c in combos for v in SAMPLE_ATTRIBUTE_VALUES.get(name, ("x",))]
    yield from combos


def _record_rows(rows: list[MetricRow]) -> tuple[Any, Any]:
    """Create each README instrument on a private MeterProvider/registry and record to it."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    meter = provider.get_meter("flext_otel")
    for row in rows:
        sets = list(_attribute_sets(row.attributes))
        if row.kind == "histogram":
            histogram = meter.create_histogram(row.instrument, unit=row.unit)
            for index, attributes in enumerate(sets):
                histogram.record(0.05 * (index + 1), attributes)
        elif row.kind == "counter":
            counter = meter.create_counter(row.instrument, unit=row.unit)
            for attributes in sets:
                counter.add(3, attributes)
        elif row.kind == "observable gauge":

            def observe(
                _options: CallbackOptions, sets: list[dict[str, str]] = sets
            ) -> list[Observation]:
                return [Observation(1.0, attributes) for attributes in sets]

            meter.create_observable_gauge(row.instrument, callbacks=[observe], unit=row.unit)
        else:
            raise AssertionError(f"unknown kind {row.kind!r} in deploy/README.md")
    return provider, registry


def test_readme_metric_names_are_what_the_otel_exporter_produces() -> None:
    """The README's instrument -> Prometheus names table matches the real exporter output."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    rows = _readme_metric_rows()
    assert {r.instrument for r in rows} >= {
        "flext.function.duration",
        "flext.function.calls",
        "flext.health.status",
        "flext.alerts",
        "flext.pipeline.accepted",
        "flext.pipeline.exported",
        "flext.pipeline.dropped",
    }
    for row in rows:
        provider, registry = _record_rows([row])
        try:
            text = generate_latest(registry).decode()
        finally:
            provider.shutdown()
        samples = [
            sample
            for family in text_string_to_metric_families(text)
            if family.name != "target_info"
            for sample in family.samples
        ]
        assert {s.name for s in samples} == set(row.series), row.instrument
        for sample in samples:
            assert set(row.attributes) <= set(sample.labels), (row.instrument, sample.labels)


def test_dashboard_and_rules_read_only_documented_metrics() -> None:
    """Every metric the dashboard and rules query is in the README's verified table."""
    documented = {name for row in _readme_metric_rows() for name in row.series}
    used = {name for _, expr in all_expressions() for name in metric_names(expr)}
    assert used
    assert used <= documented, used - documented


def test_dashboard_expressions_return_data_for_exported_metrics(prometheus_bin: str) -> None:
    """With the README's instruments scraped by Prometheus, every dashboard query and every
    rule selector returns data."""
    from prometheus_client import start_http_server

    provider, registry = _record_rows(_readme_metric_rows())
    httpd, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    # a private server: these synthetic series must not linger in the session's Prometheus
    server = PrometheusServer([], binary=prometheus_bin)
    try:
        target = f"127.0.0.1:{httpd.server_port}"
        server.set_targets([f"http://{target}/metrics"])
        assert "__metrics_path__" not in server.config_path.read_text()
        server.wait_for_targets_up(timeout=60)
        for source, expr in all_expressions():
            is_rule = source.startswith("prometheus/")
            for query in vector_selectors(expr) if is_rule else [expr]:
                result = server.wait_for(query, timeout=30)
                assert result, f"{source}: no data for {query}"
        pid = server.pid
        directory = server.directory
    finally:
        server.stop()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        provider.shutdown()
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not directory.exists()


def test_prometheus_server_writes_targets_with_paths_into_one_job(prometheus_bin: str) -> None:
    """URL targets keep scheme and path as labels in the single scrape job; rules load."""
    server = PrometheusServer(
        ["127.0.0.1:1", "https://127.0.0.1:2/custom"],
        binary=prometheus_bin,
        rule_files=[RULES_FILE],
    )
    try:
        config = json.loads(server.config_path.read_text())
        (job,) = config["scrape_configs"]
        assert job["job_name"] == "flext"
        assert job["static_configs"] == [
            {"targets": ["127.0.0.1:1"]},
            {
                "targets": ["127.0.0.1:2"],
                "labels": {"__scheme__": "https", "__metrics_path__": "/custom"},
            },
        ]
        assert server.query("ALERTS")["status"] == "success"
        rules = server.api("/api/v1/rules")["data"]["groups"]
        assert {r["name"] for g in rules for r in g["rules"]} == EXPECTED_ALERTS
        with pytest.raises(ValueError, match="host:port"):
            server.set_targets(["no-port"])
        assert server.targets == ["127.0.0.1:1", "https://127.0.0.1:2/custom"]
    finally:
        server.stop()
