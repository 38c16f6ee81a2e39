"""The CIS Amazon EKS Benchmark items a managed cluster leaves to its owner, mapped to what this platform does.

The list is kube-bench's EKS profile (the benchmark's sections 2-5: control-plane logging, worker nodes, policies,
managed services; section 1, the control plane's own files, is AWS's). Each item says who answers it: `platform`
(the program does it; the audit rule or resource that shows it is named), `owner` (a process of the customer's that
no infrastructure code can do, e.g. reviewing who holds cluster-admin), or `aws` (the managed node AMI's defaults,
verifiable by running kube-bench on a node after deploying). Printed in the audit report of every stack.
Ref: https://github.com/aquasecurity/kube-bench/tree/main/cfg/eks-1.7.0 (controlplane, node, policies,
managedservices: ids and titles)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Owner = Literal["platform", "owner", "aws"]


@dataclass(frozen=True)
class CisItem:
    id: str
    title: str
    who: Owner
    how: str


CIS_EKS_BENCHMARK: Final = "CIS Amazon EKS Benchmark v1.7.0 (kube-bench eks-1.7.0)"

CIS_EKS_ITEMS: Final[tuple[CisItem, ...]] = (
    CisItem("2.1.1", "Enable audit logs", "platform",
            "all five control-plane log types to a KMS-encrypted group (rules eks-control-plane-logs, log-group-kms)"),
    CisItem("2.1.2", "Ensure audit logs are collected and managed", "platform",
            "retention >= 365 d in staging/prod (rule log-group-retention), metric filters + alarms on the audit log"),
    CisItem("3.x", "Worker node configuration files and kubelet (section 3)", "aws",
            "EKS-optimised AMI of managed node groups; verify with `kube-bench run --benchmark eks-1.7.0` as a Job "
            "on one node after deploying (no SSH: SSM)"),
    CisItem("4.1.1", "cluster-admin only where required", "owner",
            "only the admin role's access entry has AmazonEKSClusterAdminPolicy; who may assume it is the explicit "
            "cluster.adminPrincipalArns list in staging/prod; review the list and `aws eks list-access-entries` "
            "(the first deployer's entry) each quarter"),
    CisItem("4.1.2", "Minimize access to secrets", "platform",
            "app ServiceAccounts have no RBAC and no token (rule rbac-least-privilege); chart roles that read "
            "secrets are checkov CKV2_K8S_5 findings, fixed or accepted in audit/accepted_risks.yaml"),
    CisItem("4.1.3", "Minimize wildcard use in Roles and ClusterRoles", "platform",
            "the program's Roles name verbs and resources; charts' wildcards appear as checkov CKV_K8S_49"),
    CisItem("4.1.4", "Minimize access to create pods", "owner",
            "platform-devops may create pods only in the system namespaces; review RoleBindings added later"),
    CisItem("4.1.5", "Default service accounts are not actively used", "platform",
            "every workload the program creates has its own ServiceAccount (rule rbac-least-privilege)"),
    CisItem("4.1.6", "Service account tokens only mounted where necessary", "platform",
            "automountServiceAccountToken: false on app pods (CKV_K8S_38; chart pods that call the API keep theirs)"),
    CisItem("4.1.7", "Cluster Access Manager API", "platform",
            "authenticationMode API: access entries only, no aws-auth ConfigMap (rule eks-auth-mode-api)"),
    CisItem("4.1.8", "Limit Bind, Impersonate and Escalate", "owner",
            "none granted by the program's roles; charts' grants reviewed in the accepted-risk list"),
    CisItem("4.2.1-4.2.5", "Pod Security Standards (privileged, hostPID/IPC/network, privilege escalation)",
            "platform", "every namespace carries Pod Security labels; the app namespace enforces `restricted` "
            "(rule namespace-pss)"),
    CisItem("4.3.1", "CNI plugin supports network policies", "platform",
            "VPC CNI with NetworkPolicy enforcement on (rule eks-network-policy-enforced)"),
    CisItem("4.3.2", "All namespaces have Network Policies", "platform",
            "default-deny NetworkPolicies + named allows in every platform namespace (rule namespace-default-deny)"),
    CisItem("4.4.1", "Secrets as files over environment variables", "owner",
            "the program mounts no secret as env var in app pods; service code must read files (issue 13's "
            "delivery)"),
    CisItem("4.4.2", "Consider external secret storage", "platform", "Vault holds the trust anchor and secrets"),
    CisItem("4.5.1", "Administrative boundaries with namespaces", "platform",
            "one namespace per platform component and one app namespace"),
    CisItem("4.5.2", "The default namespace should not be used", "platform",
            "nothing the program or its charts create lands in `default` (rendered manifests are namespaced)"),
    CisItem("5.1.1", "Image vulnerability scanning (ECR)", "platform", "ECR repositories scan on push"),
    CisItem("5.1.2", "Minimize user access to Amazon ECR", "owner",
            "push rights belong to the CI role; review IAM for ecr:Put* outside it"),
    CisItem("5.1.3", "Cluster access to ECR read-only", "platform",
            "the node role has AmazonEC2ContainerRegistryReadOnly only"),
    CisItem("5.1.4", "Minimize container registries to approved ones", "owner",
            "app images come from the stack's ECR repositories (prod: by digest); chart images from their "
            "upstream registries as pinned in config/versions.py"),
    CisItem("5.2.1", "Dedicated EKS service accounts (IRSA)", "platform",
            "one IRSA role per workload, trust bound to namespace/service account (rule irsa-trust-scoped)"),
    CisItem("5.3.1", "Secrets encrypted with a KMS CMK", "platform", "envelope encryption with the eks key "
            "(rule eks-secrets-encryption)"),
    CisItem("5.4.1", "Restrict access to the control plane endpoint", "platform",
            "public only in sandbox/dev, with publicAccessCidrs (rule eks-public-cidrs); private in staging/prod"),
    CisItem("5.4.2", "Private endpoint enabled, public access disabled", "platform", "staging/prod (rules "
            "eks-private-endpoint, eks-no-public-endpoint)"),
    CisItem("5.4.3", "Private nodes", "platform", "node groups in private subnets, no public IPs (rules "
            "workload-subnets-private, nodes-no-ssh-no-public-ip)"),
    CisItem("5.4.4", "Network policy enabled", "platform", "VPC CNI network policy agent"),
    CisItem("5.4.5", "TLS on HTTPS load balancers", "platform", "ALB listener HTTPS only with an ACM certificate"),
    CisItem("5.5.1", "RBAC users via IAM (aws eks get-token)", "platform",
            "the kubeconfig output uses `aws eks get-token`"),
)
