#!/usr/bin/env bash
# Builds and pushes the trust-anchor rotation controller's image (components/mesh/anchor_rotation/Dockerfile) to the
# stack's ECR repository when its tag is not there yet. The repository's tags are immutable, so a tag is pushed once;
# bump config/versions.py ANCHOR_ROTATION_IMAGE_TAG with every change of the code the image carries.
# Usage (after `pulumi up`, with the stack's AWS credentials and PULUMI_BACKEND_URL): push-rotation-image.sh <stack>
set -euo pipefail
stack="$1"
image="$(pulumi stack output trust_anchor_rotation_image --stack "$stack")"
repository_url="${image%:*}"
tag="${image##*:}"
registry="${repository_url%%/*}"
repository="${repository_url#*/}"
if aws ecr describe-images --repository-name "$repository" --image-ids "imageTag=$tag" >/dev/null 2>&1; then
  echo "trust-anchor rotation image $image already pushed"
  exit 0
fi
aws ecr get-login-password | docker login --username AWS --password-stdin "$registry"
docker build -f components/mesh/anchor_rotation/Dockerfile -t "$image" .
docker push "$image"
echo "pushed $image"
