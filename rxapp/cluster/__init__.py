"""Scale-out on one host: N app instances and nginx under supervisord (make run-cluster).

config      the settings, from the environment
migrate     migrations once, under a PostgreSQL advisory lock
frontend    the production frontend, rebuilt only when its inputs change
nginx       the reverse proxy's configuration (templates/nginx.conf)
supervisor  supervisord's configuration (templates/) and control of a running one
ready       the line printed once the cluster answers
"""
