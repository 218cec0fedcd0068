//! `flux version`, `check`, `install`, `uninstall`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::cli::{CheckArgs, Global, InstallArgs, UninstallArgs, VersionArgs};
use crate::client::{Ctx, Error, connect, describe};
use crate::install;
use crate::kinds;
use crate::output;

/// The oldest Kubernetes the controllers support.
const MIN_KUBERNETES: (u64, u64) = (1, 33);

/// `flux version`.
pub async fn version(global: &Global, args: &VersionArgs) -> Result<(), Error> {
    let mut info = serde_json::Map::new();
    info.insert("flux".to_string(), json!(format!("v{}", crate::VERSION)));
    if !args.client {
        let ctx = connect(global).await?;
        let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
        let list = deployments
            .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
            .await
            .map_err(|e| describe(&e))?;
        if list.items.is_empty() {
            output::warning(format!(
                "no Flux components found in namespace {} (controllers running outside the cluster are not listed)",
                ctx.namespace
            ));
        }
        info.insert(
            "distribution".to_string(),
            json!(format!("flux-rs-v{}", crate::VERSION)),
        );
        for d in list.items {
            let name = d.metadata.name.clone().unwrap_or_default();
            let image = d
                .spec
                .and_then(|s| s.template.spec)
                .and_then(|s| s.containers.into_iter().next())
                .and_then(|c| c.image)
                .unwrap_or_default();
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("unknown");
            info.insert(name, json!(tag));
        }
    }
    let text = match args.output.as_deref() {
        None | Some("") => info
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.as_str().unwrap_or_default()))
            .collect(),
        Some("yaml") => serde_saphyr::to_string(&info).map_err(|e| e.to_string())?,
        Some("json") => format!(
            "{}\n",
            serde_json::to_string_pretty(&info).map_err(|e| e.to_string())?
        ),
        Some(other) => return Err(format!("--output must be json or yaml, not {other}").into()),
    };
    output::print(&text);
    Ok(())
}

/// `flux check`.
pub async fn check(global: &Global, args: &CheckArgs) -> Result<(), Error> {
    let ctx = connect(global).await?;
    output::action("checking prerequisites");
    let version = ctx.client.apiserver_version().await.map_err(|e| {
        format!(
            "unable to reach the Kubernetes API server: {}",
            describe(&e)
        )
    })?;
    let (major, minor) = (
        version
            .major
            .trim_end_matches('+')
            .parse::<u64>()
            .unwrap_or(0),
        version
            .minor
            .trim_end_matches('+')
            .parse::<u64>()
            .unwrap_or(0),
    );
    let required = format!(">={}.{}.0-0", MIN_KUBERNETES.0, MIN_KUBERNETES.1);
    let git = version.git_version.trim_start_matches('v');
    if (major, minor) < MIN_KUBERNETES {
        output::failure(format!("Kubernetes {git} {required}"));
        return Err("pre-installation checks failed".into());
    }
    output::success(format!("Kubernetes {git} {required}"));
    output::success("prerequisites checks passed");
    if args.pre {
        return Ok(());
    }
    let components = install::components(&args.components, &args.components_extra)?;
    let mut failed = false;
    output::action("checking version in cluster");
    output::success(format!("distribution: flux-rs-v{}", crate::VERSION));
    output::action("checking controllers");
    for component in &components {
        match install::component_status_and_images(&ctx, component).await {
            Ok((how, images)) => {
                output::success(format!("{component}: {how}"));
                for image in images {
                    output::action(image);
                }
            }
            Err(why) => {
                output::failure(format!("{component}: {why}"));
                failed = true;
            }
        }
    }
    output::action("checking crds");
    failed |= !check_crds(&ctx).await?;
    if failed {
        return Err("check failed".into());
    }
    output::success("all checks passed");
    Ok(())
}

async fn check_crds(ctx: &Ctx) -> Result<bool, Error> {
    let api: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    let list = api
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
        .await
        .map_err(|e| describe(&e))?;
    let mut crds: Vec<CustomResourceDefinition> = list.items;
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    if crds.is_empty() {
        output::failure("no Flux CRDs found (flux install)");
        return Ok(false);
    }
    let mut ok = true;
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let storage = crd
            .spec
            .versions
            .iter()
            .find(|v| v.storage)
            .map(|v| v.name.clone())
            .unwrap_or_default();
        if install::established(&crd) {
            output::success(format!("{name}/{storage}"));
        } else {
            output::failure(format!("{name}/{storage}: not established"));
            ok = false;
        }
    }
    Ok(ok)
}

/// `flux install`.
pub async fn install(global: &Global, args: &InstallArgs) -> Result<(), Error> {
    let components = install::components(&args.options.components, &args.options.components_extra)?;
    let objects = install::manifests(&args.options, &global.namespace, &components)?;
    if args.export {
        output::print(&install::to_yaml(&objects)?);
        return Ok(());
    }
    output::generate("generating manifests");
    output::success("manifests build completed");
    let ctx = connect(global).await?;
    output::action(format!(
        "installing components in {} namespace",
        global.namespace
    ));
    install::apply(&ctx, &objects).await?;
    output::waiting("verifying installation");
    install::wait_components(&ctx, &components).await?;
    output::success("install finished");
    Ok(())
}

/// `flux uninstall`: removes the toolkit objects (finalizers dropped first,
/// so that the workloads they applied stay), the components, the CRDs and
/// the namespace.
pub async fn uninstall(global: &Global, args: &UninstallArgs) -> Result<(), Error> {
    let ctx = connect(global).await?;
    if !args.silent && !args.dry_run {
        crate::commands::manage::confirm(
            "Are you sure you want to delete Flux and its custom resource definitions",
        )?;
    }
    let dry = if args.dry_run { " (dry run)" } else { "" };
    output::action(format!(
        "deleting components in {} namespace",
        ctx.namespace
    ));
    let selector = format!("app.kubernetes.io/instance={}", ctx.namespace);
    let params = ListParams::default().labels(&selector);
    let delete = DeleteParams {
        dry_run: args.dry_run,
        ..DeleteParams::default()
    };
    for (api_version, kind, plural, namespaced) in [
        ("apps/v1", "Deployment", "deployments", true),
        ("v1", "Service", "services", true),
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        ),
        ("v1", "ServiceAccount", "serviceaccounts", true),
        ("v1", "ResourceQuota", "resourcequotas", true),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
    ] {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let resource = kube::api::ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
        };
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(ctx.client.clone(), &ctx.namespace, &resource)
        } else {
            Api::all_with(ctx.client.clone(), &resource)
        };
        let list = match api.list(&params).await {
            Ok(l) => l,
            Err(e) => {
                output::warning(format!("{kind}: {}", describe(&e)));
                continue;
            }
        };
        for object in list.items {
            let name = object.metadata.name.clone().unwrap_or_default();
            match api.delete(&name, &delete).await {
                Ok(_) => output::success(format!("{kind}/{name} deleted{dry}")),
                Err(e) => output::warning(format!("{kind}/{name}: {}", describe(&e))),
            }
        }
    }
    // Suspended first: a controller still running (outside the cluster)
    // neither re-adds its finalizer to nor prunes for a suspended object,
    // so the workloads Flux applied stay when the CRDs go.
    output::action("deleting toolkit.fluxcd.io finalizers in all namespaces");
    for kind in kinds::ALL {
        let api = ctx.api(&kind, None);
        let Ok(list) = api.list(&ListParams::default()).await else {
            continue;
        };
        for object in list.items {
            let name = object.metadata.name.clone().unwrap_or_default();
            let namespace = object.metadata.namespace.clone().unwrap_or_default();
            if !args.dry_run {
                let patch = if kind.kind == "Kustomization" || kind.kind == "HelmRelease" {
                    json!({"metadata": {"finalizers": null}, "spec": {"suspend": true}})
                } else {
                    json!({"metadata": {"finalizers": null}})
                };
                ctx.api(&kind, Some(&namespace))
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(|e| format!("{}/{namespace}/{name}: {}", kind.kind, describe(&e)))?;
            }
            output::success(format!(
                "{}/{namespace}/{name} finalizers deleted{dry}",
                kind.kind
            ));
        }
    }
    output::action("deleting toolkit.fluxcd.io custom resource definitions");
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    let list = crds
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=flux"))
        .await
        .map_err(|e| describe(&e))?;
    for crd in list.items {
        let name = crd.metadata.name.clone().unwrap_or_default();
        crds.delete(&name, &delete)
            .await
            .map_err(|e| format!("CustomResourceDefinition/{name}: {}", describe(&e)))?;
        output::success(format!("CustomResourceDefinition/{name} deleted{dry}"));
    }
    if !args.keep_namespace {
        output::action(format!("deleting namespace {}", ctx.namespace));
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(ctx.client.clone());
        match namespaces.delete(&ctx.namespace, &delete).await {
            Ok(_) => output::success(format!("Namespace/{} deleted{dry}", ctx.namespace)),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(format!("Namespace/{}: {}", ctx.namespace, describe(&e)).into()),
        }
    }
    output::success(format!("uninstall finished{dry}"));
    Ok(())
}
