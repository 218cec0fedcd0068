use flux_testenv::{ControlPlane, run, tool};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::TestResult;

/// The Kubernetes version scripts/build-k8s.sh builds.
fn expected_version() -> String {
    include_str!("../../../../tools/versions.env")
        .lines()
        .find_map(|l| l.strip_prefix("K8S_VERSION="))
        .unwrap_or_default()
        .to_string()
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_string());
    cm.data = Some(
        data.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    cm
}

async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    flux_testenv::eventually(what, check).await.unwrap()
}

#[tokio::test]
async fn api_server_reports_the_built_release() -> TestResult {
    let cp = ControlPlane::shared()?;
    assert_eq!(cp.version(), expected_version());
    let info = cp.client()?.apiserver_version().await?;
    assert_eq!(info.git_version, expected_version());
    assert_eq!(info.major, "1");
    eprintln!("control plane ready in {:?}", cp.started_in());
    Ok(())
}

#[tokio::test]
async fn config_map_create_get_watch() -> TestResult {
    let cp = ControlPlane::shared()?;
    let ns = cp.namespace("configmap").await?;
    let api: Api<ConfigMap> = Api::namespaced(cp.client()?, ns.name());
    let created = api
        .create(&PostParams::default(), &config_map("demo", &[("a", "1")]))
        .await?;
    let fetched = api.get("demo").await?;
    assert_eq!(
        fetched
            .data
            .as_ref()
            .and_then(|d| d.get("a"))
            .map(String::as_str),
        Some("1")
    );

    let version = created.resource_version().unwrap_or_default();
    let mut events = api
        .watch(&WatchParams::default().timeout(30), &version)
        .await?
        .boxed();
    api.patch(
        "demo",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await?;
    let mut seen = None;
    while let Some(event) = events.try_next().await? {
        if let WatchEvent::Modified(cm) = event {
            seen = cm.data.and_then(|d| d.get("a").cloned());
            break;
        }
    }
    assert_eq!(seen.as_deref(), Some("2"));
    Ok(())
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testenv.flux.example
spec:
  group: testenv.flux.example
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, default: blue}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

#[tokio::test]
async fn crd_install_and_custom_object_round_trip() -> TestResult {
    let cp = ControlPlane::shared()?;
    let names = cp.install_crds(WIDGET_CRD).await?;
    assert_eq!(names, ["widgets.testenv.flux.example"]);
    let ns = cp.namespace("crd").await?;
    let gvk = GroupVersionKind::gvk("testenv.flux.example", "v1", "Widget");
    let resource = ApiResource::from_gvk(&gvk);
    let api: Api<DynamicObject> = Api::namespaced_with(cp.client()?, ns.name(), &resource);
    let widget = DynamicObject::new("w1", &resource).data(json!({"spec": {"size": 3}}));
    api.create(&PostParams::default(), &widget).await?;
    let fetched = api.get("w1").await?;
    // The structural schema's default is applied by the server.
    assert_eq!(fetched.data["spec"], json!({"size": 3, "color": "blue"}));

    // Validation is the server's: size must be >= 1, and is required.
    let bad = DynamicObject::new("w2", &resource).data(json!({"spec": {"size": 0}}));
    let err = api.create(&PostParams::default(), &bad).await.unwrap_err();
    assert!(err.to_string().contains("spec.size"), "{err}");
    let missing = DynamicObject::new("w3", &resource).data(json!({"spec": {}}));
    let err = api
        .create(&PostParams::default(), &missing)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Required value"), "{err}");

    // Installing again is idempotent.
    cp.install_crds(WIDGET_CRD).await?;
    Ok(())
}

#[tokio::test]
async fn server_side_apply_managers_and_conflicts() -> TestResult {
    let cp = ControlPlane::shared()?;
    let ns = cp.namespace("ssa").await?;
    let api: Api<ConfigMap> = Api::namespaced(cp.client()?, ns.name());
    let doc = |value: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"key": value}});
    api.patch(
        "shared",
        &PatchParams::apply("manager-a"),
        &Patch::Apply(doc("a")),
    )
    .await?;
    let conflict = api
        .patch(
            "shared",
            &PatchParams::apply("manager-b"),
            &Patch::Apply(doc("b")),
        )
        .await
        .unwrap_err();
    match &conflict {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409, "{conflict}");
            assert!(status.message.contains("manager-a"), "{conflict}");
        }
        other => panic!("expected a conflict, got {other}"),
    }
    let forced = api
        .patch(
            "shared",
            &PatchParams::apply("manager-b").force(),
            &Patch::Apply(doc("b")),
        )
        .await?;
    assert_eq!(
        forced.data.and_then(|d| d.get("key").cloned()).as_deref(),
        Some("b")
    );
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(managers.contains(&"manager-b".to_string()), "{managers:?}");
    Ok(())
}

#[tokio::test]
async fn service_account_needs_rbac() -> TestResult {
    let cp = ControlPlane::shared()?;
    let ns = cp.namespace("rbac").await?;
    let admin = cp.client()?;
    let mut sa = ServiceAccount::default();
    sa.metadata.name = Some("tenant".to_string());
    Api::<ServiceAccount>::namespaced(admin.clone(), ns.name())
        .create(&PostParams::default(), &sa)
        .await?;

    let as_tenant: Api<ConfigMap> = Api::namespaced(
        cp.client_as_service_account(ns.name(), "tenant")?,
        ns.name(),
    );
    let denied = as_tenant.list(&Default::default()).await.unwrap_err();
    match &denied {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 403, "{denied}");
            assert!(
                status.message.contains("system:serviceaccount:")
                    && status.message.contains(":tenant"),
                "{denied}"
            );
        }
        other => panic!("expected forbidden, got {other}"),
    }

    let mut role = Role::default();
    role.metadata.name = Some("configmaps".to_string());
    role.rules = Some(vec![PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec!["configmaps".to_string()]),
        verbs: vec!["get".to_string(), "list".to_string(), "create".to_string()],
        ..PolicyRule::default()
    }]);
    Api::<Role>::namespaced(admin.clone(), ns.name())
        .create(&PostParams::default(), &role)
        .await?;
    let mut binding = RoleBinding::default();
    binding.metadata.name = Some("tenant-configmaps".to_string());
    binding.role_ref = RoleRef {
        api_group: "rbac.authorization.k8s.io".to_string(),
        kind: "Role".to_string(),
        name: "configmaps".to_string(),
    };
    binding.subjects = Some(vec![Subject {
        kind: "ServiceAccount".to_string(),
        name: "tenant".to_string(),
        namespace: Some(ns.name().to_string()),
        ..Subject::default()
    }]);
    Api::<RoleBinding>::namespaced(admin, ns.name())
        .create(&PostParams::default(), &binding)
        .await?;

    // The authorizer's cache catches up within moments.
    eventually("the RoleBinding to take effect", || async {
        as_tenant.list(&Default::default()).await.ok()
    })
    .await;
    as_tenant
        .create(&PostParams::default(), &config_map("mine", &[]))
        .await?;
    // Still nothing beyond the Role: cluster-scoped reads stay forbidden.
    let namespaces: Api<Namespace> = Api::all(cp.client_as_service_account(ns.name(), "tenant")?);
    assert!(namespaces.list(&Default::default()).await.is_err());
    Ok(())
}

#[tokio::test]
async fn controller_manager_finalizes_namespace_deletion() -> TestResult {
    let cp = ControlPlane::shared()?;
    assert!(cp.has_controller_manager());
    let client = cp.client()?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = cp.namespace("deleteme").await?;
    let name = ns.name().to_string();
    Api::<ConfigMap>::namespaced(client.clone(), &name)
        .create(&PostParams::default(), &config_map("doomed", &[("x", "y")]))
        .await?;
    // The controller manager also creates each namespace's default ServiceAccount.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    eventually("the default ServiceAccount", || async {
        accounts.get_opt("default").await.ok().flatten()
    })
    .await;

    namespaces.delete(&name, &DeleteParams::default()).await?;
    eventually("the namespace to be gone", || async {
        match namespaces.get_opt(&name).await {
            Ok(None) => Some(()),
            _ => None,
        }
    })
    .await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client, &name);
    assert!(config_maps.get_opt("doomed").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn kubeconfig_works_with_the_real_kubectl() -> TestResult {
    let cp = ControlPlane::shared()?;
    let out = run(std::process::Command::new(tool("kubectl")?)
        .arg("--kubeconfig")
        .arg(cp.kubeconfig_path())
        .args([
            "get",
            "namespace",
            "default",
            "-o",
            "jsonpath={.metadata.name}",
        ]))?;
    assert_eq!(out, "default");
    Ok(())
}

#[test]
fn start_failure_carries_the_component_log() {
    let err = ControlPlane::start_with(flux_testenv::ControlPlaneOptions {
        extra_apiserver_args: vec!["--no-such-flag=1".to_string()],
        ..Default::default()
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("kube-apiserver failed to start"), "{text}");
    assert!(text.contains("unknown flag: --no-such-flag"), "{text}");
}

#[test]
fn dropping_a_control_plane_stops_it_and_removes_its_files() -> TestResult {
    let cp = ControlPlane::start()?;
    let dir = cp
        .kubeconfig_path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let port: u16 = cp
        .server_url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .parse()?;
    assert!(dir.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(cp);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    Ok(())
}
