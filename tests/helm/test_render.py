"""The Helm adapter renders with Helm's own engine and says where a chart is wrong."""
import shutil
import tarfile
from pathlib import Path

import pytest

from reconciler.helm import ChartError, render, render_with_sources

WEBAPP = Path(__file__).resolve().parents[1] / "support" / "charts" / "webapp"


@pytest.fixture
def chart(tmp_path):
    """A writable copy of the 20-template test chart."""
    copy = tmp_path / "webapp"
    shutil.copytree(WEBAPP, copy)
    return copy


def _by(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_twenty_templates_render_with_helpers_range_default_and_conditionals():
    objects = render(WEBAPP, release="shop", namespace="prod")
    kinds = [o["kind"] for o in objects]
    # 20 templates: the range makes 3 worker Deployments, the disabled ingress makes nothing.
    assert len(objects) == 21 and "Ingress" not in kinds
    web = _by(objects, "Deployment", "shop-webapp")
    assert web["metadata"]["labels"]["helm.sh/chart"] == "webapp-1.2.3"           # include of a helper
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/webapp:4.5.6"  # default
    assert "replicas" not in web["spec"]                                          # if not autoscaling
    assert len(web["spec"]["template"]["metadata"]["annotations"]["checksum/config"]) == 64   # sha256sum
    assert [_by(objects, "Deployment", f"shop-webapp-{w}")["spec"]["replicas"]
            for w in ("mailer", "indexer", "thumbnailer")] == [1, 2, 1]            # range over a list
    assert _by(objects, "RoleBinding", "shop-webapp")["subjects"][0]["namespace"] == "prod"
    assert _by(objects, "ConfigMap", "shop-webapp-feature-3")["data"] == {"index": "3", "scaled": "no", "level": "INFO"}


def test_values_are_merged_over_the_charts_defaults_by_helm():
    objects = render(WEBAPP, {"image": {"tag": "9.9"}, "autoscaling": {"enabled": False},
                              "ingress": {"enabled": True, "tls": True}}, release="a", namespace="b")
    web = _by(objects, "Deployment", "a-webapp")
    assert web["spec"]["replicas"] == 2                                   # default kept from values.yaml
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/webapp:9.9"
    assert "HorizontalPodAutoscaler" not in [o["kind"] for o in objects]
    assert _by(objects, "Ingress", "a-webapp")["spec"]["tls"][0]["secretName"] == "a-webapp-tls"


def test_objects_come_in_helms_install_order_with_their_source_file():
    pairs = render_with_sources(WEBAPP, release="r", namespace="n")
    kinds = [obj["kind"] for _, obj in pairs]
    assert kinds.index("ServiceAccount") < kinds.index("ConfigMap") < kinds.index("Role") \
        < kinds.index("RoleBinding") < kinds.index("Service") < kinds.index("Deployment") < kinds.index("CronJob")
    sources = {obj["kind"]: source for source, obj in pairs}
    assert sources["CronJob"] == str(WEBAPP / "templates" / "cronjob.yaml")


def test_a_packaged_chart_renders_the_same(tmp_path):
    archive = tmp_path / "webapp-1.2.3.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(WEBAPP, arcname="webapp")
    assert render(archive, release="r", namespace="n") == render(WEBAPP, release="r", namespace="n")


def test_a_template_error_names_the_file_and_line(chart):
    path = chart / "templates" / "service.yaml"
    lines = path.read_text().splitlines()
    lines[7] = "  type: {{ required \"service.kind is required\" .Values.service.kind }}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ChartError) as caught:
        render(chart, release="r", namespace="n")
    assert (caught.value.file, caught.value.line) == (str(path), 8)
    assert "service.kind is required" in str(caught.value)


def test_an_error_inside_a_helper_points_at_the_helper(chart):
    helpers = chart / "templates" / "_helpers.tpl"
    helpers.write_text(helpers.read_text().replace("{{ .Values.image.repository }}", "{{ .Values.image.nope.deeper }}"))
    with pytest.raises(ChartError) as caught:
        render(chart, release="r", namespace="n")
    assert caught.value.file == str(helpers)
    assert helpers.read_text().splitlines()[caught.value.line - 1].startswith("{{ .Values.image.nope.deeper }}")


def test_a_syntax_error_names_the_file_and_line(chart):
    path = chart / "templates" / "pdb.yaml"
    path.write_text(path.read_text().replace("{{ .Values.podDisruptionBudget.minAvailable | default 1 }}",
                                             "{{ .Values.podDisruptionBudget.minAvailable | default 1 }}{{ end }}"))
    with pytest.raises(ChartError) as caught:
        render(chart, release="r", namespace="n")
    assert caught.value.file == str(path) and caught.value.line == 7
    assert "unexpected {{end}}" in caught.value.message


def test_an_error_in_a_packaged_chart_names_the_member(chart, tmp_path):
    (chart / "templates" / "secret.yaml").write_text("kind: {{ fail \"no secrets here\" }}\n")
    archive = tmp_path / "broken.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(chart, arcname="webapp")
    with pytest.raises(ChartError, match=r"broken\.tgz!/webapp/templates/secret\.yaml:1: .*no secrets here"):
        render(archive, release="r", namespace="n")


def test_output_that_is_not_yaml_or_not_an_object_is_reported_with_its_template(chart):
    (chart / "templates" / "secret.yaml").write_text("kind: [ {{ .Release.Name }}\n")
    with pytest.raises(ChartError, match=r"templates/secret\.yaml: the rendered output is not valid YAML"):
        render(chart, release="r", namespace="n")
    (chart / "templates" / "secret.yaml").write_text("just: {{ .Release.Name }}\n")
    with pytest.raises(ChartError, match=r"templates/secret\.yaml: rendered document 1 is not a Kubernetes object"):
        render(chart, release="r", namespace="n")


def test_a_broken_values_file_and_a_missing_chart_are_named(chart):
    (chart / "values.yaml").write_text("image: [\n")
    with pytest.raises(ChartError) as caught:
        render(chart, release="r", namespace="n")
    assert caught.value.file == str(chart / "values.yaml") and caught.value.line == 1
    with pytest.raises(ChartError, match="no such chart"):
        render(chart / "absent", release="r", namespace="n")


def test_renders_from_several_threads_agree_with_one_at_a_time():
    from concurrent.futures import ThreadPoolExecutor
    cases = [({"replicaCount": i % 4, "autoscaling": {"enabled": i % 2 == 0}}, f"r{i}") for i in range(40)]
    serial = [render(WEBAPP, values, release=name, namespace="n") for values, name in cases]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda case: render(WEBAPP, case[0], release=case[1], namespace="n"), cases))
    assert parallel == serial


SCHEMA = {"$schema": "https://json-schema.org/draft-07/schema#", "type": "object",
          "properties": {"replicaCount": {"type": "integer", "minimum": 1}}}
CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
"""


def test_values_are_checked_against_the_charts_schema_and_the_error_names_it(chart):
    import json
    (chart / "values.schema.json").write_text(json.dumps(SCHEMA))
    assert render(chart, {"replicaCount": 3}, release="r", namespace="n")
    with pytest.raises(ChartError) as caught:
        render(chart, {"replicaCount": "three"}, release="r", namespace="n")
    assert caught.value.file == str(chart / "values.schema.json")
    assert "/replicaCount" in caught.value.message and "want integer" in caught.value.message


def test_crds_come_first_only_when_asked_for(chart):
    (chart / "crds").mkdir()
    (chart / "crds" / "widget.yaml").write_text(CRD)
    assert "CustomResourceDefinition" not in [o["kind"] for o in render(chart, release="r", namespace="n")]
    pairs = render_with_sources(chart, release="r", namespace="n", include_crds=True)
    assert pairs[0][1]["metadata"]["name"] == "widgets.example.com"
    assert pairs[0][0] == str(chart / "crds" / "widget.yaml")
    assert len(pairs) == 22


def test_a_subchart_in_charts_renders_and_its_errors_name_its_file(chart):
    sub = chart / "charts" / "cache"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: cache\nversion: 0.1.0\n")
    (sub / "values.yaml").write_text("size: 64Mi\n")
    (sub / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cache\ndata:\n"
        "  size: {{ .Values.size | quote }}\n")
    objects = render(chart, {"cache": {"size": "1Gi"}}, release="r", namespace="n")
    assert _by(objects, "ConfigMap", "r-cache")["data"] == {"size": "1Gi"}        # parent values reach it
    (sub / "templates" / "cm.yaml").write_text("kind: {{ fail \"cache broke\" }}\n")
    with pytest.raises(ChartError) as caught:
        render(chart, release="r", namespace="n")
    assert caught.value.file == str(sub / "templates" / "cm.yaml") and caught.value.line == 1


def test_an_alias_bomb_in_the_rendered_output_is_refused(chart):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    (chart / "templates" / "secret.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
                                                     + bomb)
    with pytest.raises(ChartError, match=r"templates/secret\.yaml: the rendered output is not valid YAML"):
        render(chart, release="r", namespace="n")
