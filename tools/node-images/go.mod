module flux-rs.invalid/tools/node-images

go 1.26.0
