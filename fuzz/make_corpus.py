#!/usr/bin/python3
"""Writes the seed corpora of Keel's fuzz targets into fuzz/corpus/<target>/.

Every seed is a small valid input built by hand from the protocol documents (PostgreSQL docs
55.7 "Message Formats", RFC 7677's SCRAM-SHA-256 example, Patroni-compatible REST requests,
Keel's example configs). Files that the fuzz targets' crashes added (crash-*) are kept: this
script only rewrites the seeds it names. Run it after changing a target's input layout:

    python3 fuzz/make_corpus.py
"""
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    path = os.path.join(ROOT, "corpus", target)
    os.makedirs(path, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


# ---- PostgreSQL protocol 3.0 -------------------------------------------------------------

def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def cstr(s):
    return s.encode() + b"\0"


def msg(kind, body=b""):
    return kind.encode() + i32(len(body) + 4) + body


def packet(body):
    return i32(len(body) + 4) + body


def startup(params, version=196608):
    body = i32(version)
    for k, v in params:
        body += cstr(k) + cstr(v)
    return packet(body + b"\0")


SSL_REQUEST = packet(i32(80877103))
GSSENC_REQUEST = packet(i32(80877104))
CLIENT_FIRST = "n,,n=,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL = ("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def sasl_initial(mech, data):
    return msg("p", cstr(mech) + i32(len(data)) + data.encode())


def bind(portal, stmt, formats, params, results):
    body = cstr(portal) + cstr(stmt) + i16(len(formats)) + b"".join(i16(f) for f in formats)
    body += i16(len(params))
    for p in params:
        body += i32(-1) if p is None else i32(len(p)) + p
    body += i16(len(results)) + b"".join(i16(f) for f in results)
    return msg("B", body)


def auth(code, extra=b""):
    return msg("R", i32(code) + extra)


def error_fields(fields):
    return b"".join(k.encode() + cstr(v) for k, v in fields) + b"\0"


def row_description(fields):
    body = i16(len(fields))
    for name, table, col, typ, size, mod, fmt in fields:
        body += cstr(name) + i32(table) + i16(col) + i32(typ) + i16(size) + i32(mod) + i16(fmt)
    return msg("T", body)


def data_row(cols):
    body = i16(len(cols))
    for c in cols:
        body += i32(-1) if c is None else i32(len(c)) + c
    return msg("D", body)


def copy_response(kind, fmt, cols):
    return msg(kind, bytes([fmt]) + i16(len(cols)) + b"".join(i16(c) for c in cols))


def pgwire_seed(name, options, auth_after, seed, stream):
    write("pgwire", name, bytes([options, auth_after]) + struct.pack(">H", seed) + stream)


# Options (fuzz/pgwire_fuzzer.cc): bit 0 backend, 1 stream, 2 SSL answer first, 3 accept
# encryption, 4 unknown types allowed, 5-6 piece size, 7 prepare()/commit().
BACKEND, STREAM, SSL_ANSWER, ACCEPT, UNKNOWN_OK, PREPARE = 1, 2, 4, 8, 16, 128
PIECES_16, PIECES_64, PIECES_512 = 32, 64, 96

FE_STARTUP = startup([("user", "alice"), ("database", "app"), ("application_name", "psql")])

pgwire_seed("fe_scram_login_query", PIECES_16, 3, 1,
            FE_STARTUP + sasl_initial("SCRAM-SHA-256", CLIENT_FIRST) +
            msg("p", CLIENT_FINAL.encode()) + msg("Q", cstr("SELECT 1")) + msg("X"))
pgwire_seed("fe_ssl_refused_then_startup", PIECES_64 | PREPARE, 2, 2,
            SSL_REQUEST + FE_STARTUP + msg("p", cstr("secret")) + msg("X"))
pgwire_seed("fe_ssl_accepted_with_plaintext_behind", ACCEPT, 255, 3, SSL_REQUEST + FE_STARTUP)
pgwire_seed("fe_gssenc_refused_then_ssl", PIECES_16, 255, 4,
            GSSENC_REQUEST + SSL_REQUEST + FE_STARTUP)
pgwire_seed("fe_cancel_request", 0, 255, 5, packet(i32(80877102) + i32(4242) + i32(-559038737)))
pgwire_seed("fe_cancel_then_garbage", PIECES_512, 255, 6,
            packet(i32(80877102) + i32(1) + i32(2)) + b"Q")
pgwire_seed("fe_extended_query", PIECES_64 | PREPARE, 2, 7,
            FE_STARTUP + msg("p", cstr("md52b402547e7beb0ed221f59c23c78c49a")) +
            msg("P", cstr("s1") + cstr("SELECT $1::int, $2") + i16(2) + i32(23) + i32(0)) +
            bind("", "s1", [0, 1], [b"42", None], [1]) + msg("D", b"P" + cstr("")) +
            msg("E", cstr("") + i32(100)) + msg("C", b"S" + cstr("s1")) + msg("H") +
            msg("S") + msg("X"))
pgwire_seed("fe_copy_in", PIECES_16, 1, 8,
            FE_STARTUP + msg("Q", cstr("COPY t FROM STDIN")) + msg("d", b"1\tone\n") +
            msg("d", b"2\ttwo\n") + msg("c") + msg("f", cstr("client gave up")))
pgwire_seed("fe_function_call", PIECES_64, 1, 9,
            FE_STARTUP + msg("F", i32(1598) + i16(1) + i16(1) + i16(2) + i32(4) + b"\0\0\0\1" +
                             i32(-1) + i16(0)))
pgwire_seed("fe_streamed_copy_data", STREAM | PIECES_16 | PREPARE, 1, 10,
            FE_STARTUP + msg("d", bytes(range(200))) + msg("c") + msg("S"))
pgwire_seed("fe_replication_protocol_3_2", PIECES_512, 1, 11,
            startup([("user", "rep"), ("replication", "database"), ("_pq_.command", "x"),
                     ("options", "-c work_mem=64MB")], version=196610) +
            msg("Q", cstr("IDENTIFY_SYSTEM")))
pgwire_seed("fe_gss_and_sasl_responses", 0, 255, 12,
            FE_STARTUP + msg("p", b"\x60\x82gss-token") +
            sasl_initial("SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,n=,r=abc"))
pgwire_seed("fe_too_large_before_auth", PIECES_512, 255, 13,
            FE_STARTUP + b"p" + i32(5000) + b"x" * 64)

BE_LOGIN = (auth(10, cstr("SCRAM-SHA-256") + b"\0") + auth(11, SERVER_FIRST.encode()) +
            auth(12, SERVER_FINAL.encode()) + auth(0) +
            msg("S", cstr("server_version") + cstr("15.6")) +
            msg("S", cstr("client_encoding") + cstr("UTF8")) + msg("K", i32(1234) + i32(5678)) +
            msg("Z", b"I"))
pgwire_seed("be_scram_login", BACKEND | PIECES_16, 4, 20, BE_LOGIN)
pgwire_seed("be_md5_login", BACKEND | PIECES_64 | PREPARE, 2, 21,
            auth(5, b"\1\2\3\4") + auth(0) + msg("Z", b"I"))
pgwire_seed("be_query_result", BACKEND | PIECES_64, 0, 22,
            row_description([("id", 16384, 1, 23, 4, -1, 0), ("name", 16384, 2, 25, -1, -1, 0)]) +
            data_row([b"1", b"one"]) + data_row([b"2", None]) + msg("C", cstr("SELECT 2")) +
            msg("Z", b"T"))
pgwire_seed("be_extended_results", BACKEND | PIECES_16 | PREPARE, 0, 23,
            msg("1") + msg("t", i16(2) + i32(23) + i32(25)) + msg("n") + msg("2") +
            msg("s") + msg("3") + msg("I") + msg("Z", b"E"))
pgwire_seed("be_error_notice_notify", BACKEND | PIECES_64, 0, 24,
            msg("E", error_fields([("S", "ERROR"), ("V", "ERROR"), ("C", "42P01"),
                                   ("M", 'relation "t" does not exist'), ("P", "15"),
                                   ("F", "parse_relation.c"), ("L", "1392"),
                                   ("R", "parserOpenTable")])) +
            msg("N", error_fields([("S", "WARNING"), ("C", "01000"), ("M", "careful"),
                                   ("D", "detail"), ("H", "hint")])) +
            msg("A", i32(77) + cstr("jobs") + cstr("{\"id\":1}")))
pgwire_seed("be_copy_both_directions", BACKEND | STREAM | PIECES_16, 0, 25,
            copy_response("G", 0, [0, 0]) + copy_response("H", 1, [1]) +
            copy_response("W", 0, []) + msg("d", b"x" * 100) + msg("c") +
            msg("C", cstr("COPY 2")))
pgwire_seed("be_ssl_accepted", BACKEND | SSL_ANSWER, 0, 26, b"S")
pgwire_seed("be_ssl_refused_then_negotiate", BACKEND | SSL_ANSWER | PIECES_16, 3, 27,
            b"N" + msg("v", i32(0) + i32(1) + cstr("_pq_.command")) + auth(3) + auth(0))
pgwire_seed("be_ssl_answer_error", BACKEND | SSL_ANSWER, 0, 28,
            msg("E", error_fields([("S", "FATAL"), ("C", "08P01"),
                                   ("M", "unsupported frontend protocol")])))
pgwire_seed("be_ssl_accepted_with_bytes_behind", BACKEND | SSL_ANSWER, 0, 29, b"S" + auth(0))
pgwire_seed("be_function_call_response", BACKEND | PIECES_512 | UNKNOWN_OK, 0, 30,
            msg("V", i32(4) + b"\0\0\0\7") + msg("V", i32(-1)) + msg("Z", b"I"))

# ---- SCRAM ------------------------------------------------------------------------------
# Fields end with a backslash and a newline; the last byte picks the scenario.

RFC_CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC_VERIFIER = ("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
                "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
                "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")


def scram_seed(name, scenario, fields):
    write("scram", name, "".join(f + "\\\n" for f in fields).encode() + bytes([scenario]))


scram_seed("server_rfc7677", 0, [RFC_CLIENT_FIRST, CLIENT_FINAL, "SCRAM-SHA-256"])
scram_seed("server_rfc7677_from_password", 1, [RFC_CLIENT_FIRST, CLIENT_FINAL, ""])
scram_seed("server_mock_user", 2, [RFC_CLIENT_FIRST, CLIENT_FINAL, ""])
scram_seed("server_plus_mechanism", 0, [RFC_CLIENT_FIRST, CLIENT_FINAL, "SCRAM-SHA-256-PLUS"])
scram_seed("server_channel_binding_requested", 0,
           ["p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO", CLIENT_FINAL, ""])
scram_seed("server_y_flag_authzid_extension", 0,
           ["y,a=admin,n=,r=rOprNGfwEbeRWgbNEkqO,x=ext", "c=eSws,r=x,p=AAAA", ""])
scram_seed("server_extension_m", 0, ["n,,m=ext,n=,r=abc", "c=biws,r=abc,p=", ""])
scram_seed("server_for_verifier", 3, [RFC_CLIENT_FIRST, CLIENT_FINAL, RFC_VERIFIER])
scram_seed("server_for_plaintext", 3, [RFC_CLIENT_FIRST, CLIENT_FINAL, "pencil"])
scram_seed("server_for_md5_secret", 3,
           [RFC_CLIENT_FIRST, CLIENT_FINAL, "md5A2CC14BCC08BCB211F578153967ABD6D"])
scram_seed("client_keys_rfc7677", 4, [SERVER_FIRST, SERVER_FINAL])
scram_seed("client_password_rfc7677", 5, [SERVER_FIRST, SERVER_FINAL])
scram_seed("client_server_error", 4, [SERVER_FIRST, "e=invalid-proof"])
scram_seed("client_huge_iterations", 5,
           ["r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999", ""])
scram_seed("client_bad_salt_extension", 5,
           ["r=rOprNGfwEbeRWgbNEkqOabc,s=@@@@,i=4096,x=1", "v=AAAA"])
scram_seed("mechanisms_md5_secret", 6,
           ["SCRAM-SHA-256-PLUS,SCRAM-SHA-256", "md52b402547e7beb0ed221f59c23c78c49a",
            RFC_VERIFIER])
scram_seed("mechanisms_none_usable", 6, ["GSSAPI,SCRAM-SHA-1", "md5zz", "SCRAM-SHA-256$0:$:"])
# Scenario 7: each step takes a field, then an operation byte from the end (read backwards):
# 0 handleClientFirst, 1 handleClientFinal, 2 provideKeys, 3 clientFirstMessage,
# 4 handleServerFirst, 5 clientFinalMessage, 6 handleServerFinal.
steps = [(RFC_CLIENT_FIRST, 0), ("", 2), (CLIENT_FINAL, 1), (CLIENT_FINAL, 1), ("", 3),
         (SERVER_FIRST, 4), ("", 5), (SERVER_FINAL, 6), (SERVER_FINAL, 6), ("", 5)]
write("scram", "state_machines_in_order_then_repeated",
      "".join(f + "\\\n" for f, _ in steps).encode() +
      bytes(op for _, op in reversed(steps)) + bytes([7]))

# ---- REST API ---------------------------------------------------------------------------


def http(method, target, body=None, headers=()):
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8008"]
    lines += list(headers)
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
    return "\r\n".join(lines) + "\r\n\r\n" + (body or "")


AUTH = "Authorization: Basic a2VlbDpzZWNyZXQ="  # keel:secret
write("api", "switchover", http("POST", "/switchover", '{"leader": "node1", "candidate": "node2"}',
                                [AUTH]))
write("api", "switchover_scheduled",
      http("POST", "/switchover",
           '{"leader":"node1","scheduled_at":"2030-01-02T03:04:05+01:00","candidate":null}'))
write("api", "switchover_cancel", http("DELETE", "/switchover", headers=[AUTH]))
write("api", "failover", http("POST", "/failover", '{"candidate": "node2"}', [AUTH]))
write("api", "failover_scheduled_refused",
      http("POST", "/failover", '{"candidate": "node2", "scheduled_at": "now"}'))
write("api", "restart", http("POST", "/restart", '{"restart_pending": true, "role": "master"}'))
write("api", "restart_unsupported_field", http("POST", "/restart", '{"schedule": "2030-01-01"}'))
write("api", "reinitialize", http("POST", "/reinitialize", '{"force": true}', [AUTH]))
write("api", "reload_empty_body", http("POST", "/reload", ""))
write("api", "config_patch",
      http("PATCH", "/config",
           '{"pause": true, "maximum_lag_on_failover": 1048576, '
           '"postgresql": {"parameters": {"work_mem": "8MB", "max_connections": null}}}',
           [AUTH]))
write("api", "config_put", http("PUT", "/config", '{"ttl": 30, "loop_wait": 10}'))
write("api", "config_patch_not_object", http("PATCH", "/config", '[1, "two", {"3": null}]'))
write("api", "config_patch_bad_json", http("PATCH", "/config", '{"pause": tru'))
write("api", "health_filters", http("GET", "/replica?lag=1MB&tag_zone=a&replication_state=streaming"))
write("api", "readiness_head_options",
      http("GET", "/readiness?mode=apply") + http("HEAD", "/leader") +
      http("OPTIONS", "/config") + http("GET", "/liveness"))
write("api", "state_documents",
      http("GET", "/patroni") + http("GET", "/cluster") + http("GET", "/history") +
      http("GET", "/metrics"))
write("api", "chunked_switchover",
      "POST /switchover HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n\r\n"
      "10\r\n{\"leader\": \"node\r\n6\r\n1\"}   \r\n0\r\n\r\n")
write("api", "percent_encoded_path", http("GET", "/%70atroni/?a=%zz&b=x+y&&c"))
write("api", "failsafe",
      http("POST", "/failsafe",
           '{"name": "node1", "api_url": "http://10.0.0.1:8008", '
           '"conn_url": "postgres://10.0.0.1:5432/postgres"}', [AUTH]) +
      http("GET", "/failsafe") + http("POST", "/failsafe", '{"api_url": 5}') +
      http("PATCH", "/config", '{"failsafe_mode": true, "synchronous_mode": "quorum"}'))
write("api", "wrong_method_and_auth",
      http("GET", "/switchover") + http("POST", "/config", "{}", ["Authorization: Basic !!!"]))

# ---- config -----------------------------------------------------------------------------

for example in ("keel-node1", "keel-node2", "keel-node3", "keel-external-etcd"):
    with open(os.path.join(ROOT, "..", "docs", "examples", example + ".yaml")) as f:
        write("config", example + ".yaml", f.read())

MINIMAL = """scope: demo
name: node1
data_dir: /var/lib/keel
postgresql:
  authentication:
    superuser: {password: su-secret}
    replication: {password: repl-secret}
"""
write("config", "minimal.yaml", MINIMAL)
write("config", "ha-modes.yaml", MINIMAL + """ha:
  ttl: 10s
  synchronous_mode: quorum
  synchronous_node_count: 2
  synchronous_mode_strict: true
  primary_start_timeout: 0s
  failsafe_mode: true
""")
# What `keel demo` writes for its first member (src/cli/demo_command.cc).
write("config", "demo-node1.yaml", """# Generated by keel demo; rewritten on every run.
scope: demo
name: node1
data_dir: /tmp/keel-demo/node1
postgresql:
  listen: 127.0.0.1:15432
  parameters:
    max_connections: 100
    shared_buffers: 64MB
  pg_hba:
    - host all all 127.0.0.1/32 scram-sha-256
  authentication:
    superuser: {username: postgres, password: 3f2a9c1d}
    replication: {username: replicator, password: 8b7e6d5c}
etcd:
  embedded:
    listen_client: 127.0.0.1:15479
    listen_peer: 127.0.0.1:15480
    initial_cluster:
      node1: http://127.0.0.1:15480
      node2: http://127.0.0.1:15490
      node3: http://127.0.0.1:15500
    client_urls:
      node1: http://127.0.0.1:15479
      node2: http://127.0.0.1:15489
      node3: http://127.0.0.1:15499
restapi:
  listen: 127.0.0.1:15408
proxy:
  listen_rw: 127.0.0.1:6432
  listen_ro: 127.0.0.1:6433
  auth_file: /tmp/keel-demo/userlist.txt
  admin_users: [postgres]
  client_tls:
    sslmode: prefer
    cert_file: /tmp/keel-demo/tls/server.crt
    key_file: /tmp/keel-demo/tls/server.key
""")
write("config", "proxy-full.yaml", MINIMAL + """tags:
  nofailover: false
  failover_priority: 2
  zone: a
log_level: debug
restapi:
  listen: 0.0.0.0:8008
  connect_address: 10.0.0.1:8008
  authentication: {username: keel, password: api}
proxy:
  enabled: true
  listen_rw: 0.0.0.0:6432
  listen_ro: "[::1]:6433"
  connect_address: db1.example:6432
  workers: 2
  pool_mode: session
  max_client_conn: 500
  default_pool_size: 10
  min_pool_size: 2
  server_connect_timeout: 1.5s
  server_idle_timeout: 10m
  server_lifetime: 1h
  query_wait_timeout: 500ms
  failover_hold_timeout: 30
  max_lag_bytes: 16kB
  max_lag_time: 10s
  ro_fallback_to_primary: false
  server_reset_query: ""
  track_extra_parameters: [search_path, myapp.tenant]
  max_packet_size: 1GB
  hba:
    - hostssl all all 0.0.0.0/0 cert
    - host app,reports +admins 10.0.0.0/8 md5
    - hostnossl all all ::1/128 trust
    - host all all all reject
  auth_file: /etc/keel/userlist.txt
  auth_user: pgbouncer
  auth_query: SELECT usename, passwd FROM pg_shadow WHERE usename=$1
  stats_users: [monitor]
  client_tls: {sslmode: verify-full, cert_file: /c.pem, key_file: /k.pem, ca_file: /ca.pem}
  server_tls: {sslmode: disable}
""")
write("config", "errors-everywhere.yaml", """scope: ""
name: [a, b]
dat_dir: /x
postgresql:
  listen: 127.0.0.1:99999
  start_timeout: -1s
  parameters: {port: 5433, hba_file: /x, wal_level: {a: 1}}
  authentication: {superuser: {password: 1}}
etcd: {endpoints: [ftp://x], embedded: {name: n}}
ha: {ttl: 1ms, loop_wait: 2s, maximum_lag_on_failover: 1.5B}
proxy: {workers: 1000, hba: [host all], auth_type: ldap, track_extra_parameters: ["search path"]}
""")
write("config", "yaml-features.yaml", """anchors: &a {x: 1}
scope: &s demo
name: *s
data_dir: !!str /var/lib/keel
postgresql:
  authentication:
    superuser: {password: "su\\x00secret"}
    replication: {password: 'it''s'}
  parameters:
    <<: *a
    wal_log_hints: yes
    search_path: '"$user", public'
  pg_hba: |
    host all all 0.0.0.0/0 md5
---
second: document
""")
