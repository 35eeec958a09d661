"""OCI registry inspection: read an image's config labels without pulling it.

* :mod:`~aimctl.oci.reference` — image references with Docker's defaults;
* :mod:`~aimctl.oci.credentials` — registry credentials from ``dockerconfigjson`` pull secrets;
* :mod:`~aimctl.oci.errors` — transient vs permanent failures;
* :mod:`~aimctl.oci.client` — manifest → config blob → labels, with Bearer-token and Basic auth.
"""
