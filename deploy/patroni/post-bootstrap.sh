#!/bin/sh
# Run once by Patroni on the first primary: the role and database the ipam servers use.
# $1 is a connection string to the new cluster as the superuser.
set -eu
psql "$1" -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE ipam LOGIN PASSWORD '${IPAM_DB_PASSWORD}';
CREATE DATABASE ipam OWNER ipam;
SQL
