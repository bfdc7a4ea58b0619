"""The developer portal: a server-rendered web UI on the control plane."""
