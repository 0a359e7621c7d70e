#!/usr/bin/env python3
"""Generate Portolan's port table, data/ports.tsv, from the curated lists below.

    python3 crates/targets/data/gen_ports.py           # rewrite ports.tsv next to this script
    python3 crates/targets/data/gen_ports.py --check   # also compare names with /etc/services

Everything the table contains is in this file: port numbers and service names
from the IANA Service Name and Transport Protocol Port Number Registry, a few
de-facto ports of widely deployed software (each annotated with the software
whose own documentation gives the port), and our own frequency ranking, which
is simply the order of the tiers and of the lines inside each tier.  Nothing
here is taken from Nmap's nmap-services file or its frequency data.  See
PORTS-SOURCES.md for the method.

Line syntax inside a tier block: "PORT NAME", optionally followed by "# note".
The rank of a line is its position in the concatenation of that protocol's
tiers (first line = rank 1).  UDP names in IANA_SYSTEM_PORTS for ports not
ranked for UDP are written with rank "-".
"""

import os
import re
import sys

# ---------------------------------------------------------------------------
# TCP, in rank order.
TCP_TIERS = [
    ('A', 'Tier A: ubiquitous remote-access, web, mail, name, file-sharing and printing services (judged order).', """
22 ssh
80 http
443 https
445 microsoft-ds
139 netbios-ssn
135 epmap
3389 ms-wbt-server
21 ftp
23 telnet
25 smtp
53 domain
8080 http-alt
8443 https-alt        # IANA: pcsync-https; de-facto HTTPS alternate (Tomcat, Jetty, appliances)
111 sunrpc
110 pop3
143 imap
993 imaps
995 pop3s
587 submission
465 submissions
2049 nfs
5900 rfb
8000 http-alt         # IANA: irdmi; de-facto HTTP alternate (Django, Splunk web, many apps)
631 ipp
9100 pdl-datastream
515 printer
548 afpovertcp
5985 wsman
5986 wsmans
8888 http-alt         # IANA: ddi-tcp-1; de-facto HTTP alternate (Jupyter default)
8008 http-alt
1723 pptp
554 rtsp
3128 http-proxy       # IANA: ndl-aas; Squid default http_port
1080 socks
389 ldap
88 kerberos
636 ldaps
179 bgp
990 ftps
5000 commplex-main
5001 commplex-link
8081 http-alt         # IANA: sunproxyadmin; de-facto HTTP alternate
10000 ndmp
9000 cslistener
2000 cisco-sccp
5060 sip
"""),
    ('B', 'Tier B: databases, directory, messaging, remote-desktop, management and monitoring interfaces of common server software (judged order).', """
3306 mysql
5432 postgresql
1433 ms-sql-s
1521 oracle           # IANA: ncube-lm; Oracle Net listener default (Oracle docs)
6379 redis
27017 mongodb
9200 elasticsearch    # IANA: wap-wsp; Elasticsearch HTTP default (Elastic docs)
11211 memcache
3268 msft-gc
3269 msft-gc-ssl
464 kpasswd
593 http-rpc-epmap
9389 adws
5357 wsdapi
2375 docker
2376 docker-s
2377 swarm
6443 kubernetes       # IANA: sun-sr-https; Kubernetes API server default (Kubernetes docs)
10250 kubelet         # unassigned; kubelet API (Kubernetes docs)
2379 etcd-client
2380 etcd-server
5672 amqp
5671 amqps
15672 rabbitmq-mgmt   # unassigned; RabbitMQ management plugin (RabbitMQ docs)
1883 mqtt
8883 secure-mqtt
9092 kafka            # IANA: XmlIpcRegSvc; Apache Kafka broker default (Kafka docs)
2181 zookeeper        # IANA: eforward; Apache ZooKeeper client port (ZooKeeper docs)
9090 prometheus       # IANA: websm; Prometheus server default (Prometheus docs)
3000 grafana          # IANA: remoteware-cl; Grafana default http_port (Grafana docs)
5601 kibana           # IANA: esmagent; Kibana default server.port (Elastic docs)
9300 elasticsearch    # IANA: vrace; Elasticsearch transport default (Elastic docs)
10050 zabbix-agent
10051 zabbix-trapper
5666 nrpe
161 snmp
199 smux
5222 xmpp-client
5269 xmpp-server
873 rsync
3260 iscsi-target
1434 ms-sql-m
2483 ttc
2484 ttc-ssl
5984 couchdb
8086 influxdb         # IANA: d-s-n; InfluxDB HTTP API default (InfluxData docs)
9042 cassandra        # unassigned; Cassandra native transport (Apache Cassandra docs)
7474 neo4j
7687 bolt
26257 cockroach
33060 mysqlx
50000 db2             # dynamic range; IBM Db2 default instance port (IBM docs)
3050 gds-db
1099 rmiregistry
4369 epmd
8500 consul           # IANA: fmtp; Consul HTTP API default (HashiCorp docs)
8200 vault            # IANA: trivnet1; Vault API default (HashiCorp docs)
9093 alertmanager     # IANA: copycat; Prometheus Alertmanager default (Prometheus docs)
8089 splunkd          # unassigned; Splunk management port (Splunk docs)
8834 nessus           # unassigned; Nessus web UI (Tenable docs)
4848 appserv-http
902 vmware-authd      # IANA: ideafarm-door; VMware ESXi/Workstation authd (VMware docs)
8006 proxmox          # IANA: wpl-analytics; Proxmox VE web UI (Proxmox docs)
16992 amt-soap-http
16993 amt-soap-https
2381 compaq-https
2301 cpq-wbem
5988 wbem-http
5989 wbem-https
1311 rxmon
8291 winbox           # unassigned; MikroTik RouterOS Winbox (MikroTik docs)
8728 mikrotik-api     # unassigned; MikroTik RouterOS API (MikroTik docs)
830 netconf-ssh
4786 smart-install
7547 cwmp
1900 ssdp
2869 icslap
5901 vnc              # unassigned; VNC display :1 (RFB 5900+N convention, RealVNC/TigerVNC docs)
5902 vnc              # unassigned; VNC display :2
5938 teamviewer       # unassigned; TeamViewer (TeamViewer docs)
1494 ica
2598 citriximaclient
3283 net-assistant
4899 radmin-port
5631 pcanywheredata
6000 x11
61616 activemq        # dynamic range; ActiveMQ OpenWire default (Apache ActiveMQ docs)
4222 nats             # unassigned; NATS client port (NATS docs)
1414 ibm-mqseries
1801 msmq
5280 xmpp-bosh
6667 ircu
6697 ircs-u
194 irc
8009 nvme-disc
8088 radan-http
9443 tungsten-https
7001 afs3-callback
8181 intermapper
9080 glrpc
9990 osm-appsrvr
4443 pharos
8001 vcom-tunnel
8082 us-cli
8090 opsmessaging
8880 cddbp-alt
9001 etlservicemgr
9101 bacula-dir
9102 bacula-fd
9103 bacula-sd
10080 amanda
13720 bprd
13721 bpdbm
13782 bpcd
1556 veritas-pbx
860 iscsi
3205 isns
20048 mountd
5061 sips
1720 h323hostcall
502 mbap
102 iso-tsap
20000 dnp
2404 iec-104
4840 opcua-tcp
9418 git
3690 svn
2401 cvspserver
8140 puppet
8983 solr             # unassigned; Apache Solr default (Solr docs)
32400 plex
8096 jellyfin         # unassigned; Jellyfin HTTP default (Jellyfin docs)
1935 macromedia-fcs
3689 daap
7000 afs3-fileserver
8118 privoxy
109 pop2
119 nntp
563 nntps
4190 sieve
113 auth
1812 radius
1813 radius-acct
49 tacacs
3478 stun
5349 stuns
1194 openvpn
1701 l2tp
500 isakmp
25565 minecraft       # unassigned; Minecraft Java server default (server.properties)
"""),
    ('C', "Tier C: further ports of known software and standard protocols (Windows server roles, out-of-band management, secure variants of management protocols, database/ops tooling, then IANA registrations also carried by Debian's /etc/services) (judged order).", """
47001 winrm           # WinRM HTTP listener on Windows
7680 ms-do            # Windows Delivery Optimization
5722 msdfsr
2179 vmrdp            # vmrdp (Hyper-V)
3343 ms-cluster-net
2382 ms-olap3
2383 ms-olap4
5723 omhs
8530 wsus             # unassigned; WSUS HTTP on Server 2012+ (Microsoft docs)
8531 wsus             # unassigned; WSUS HTTPS (Microsoft docs)
623 oob-ws-http       # DMTF out-of-band web services (Intel AMT)
664 oob-ws-https
5800 vnc-http         # unassigned; VNC built-in HTTP viewer (RealVNC/TightVNC docs)
5903 vnc              # IANA: ff-ice; VNC display :3 (RFB 5900+N convention)
5904 vnc              # IANA: ag-swim; VNC display :4
5905 vnc              # IANA: asmgcs; VNC display :5
6001 x11
6002 x11
6003 x11
6004 x11
6005 x11
6006 x11
6007 x11
8729 mikrotik-api-ssl # unassigned; MikroTik RouterOS API over TLS (MikroTik docs)
6513 netconf-tls
6514 syslog-tls
601 syslog-conn
2083 radsec
3799 radius-dynauth
10161 snmptls
5161 snmpssh
26379 redis-sentinel  # unassigned; Redis Sentinel default (Redis docs)
27018 mongodb         # unassigned; MongoDB shardsvr default (MongoDB docs)
27019 mongodb         # unassigned; MongoDB configsvr default (MongoDB docs)
8529 arangodb         # unassigned; ArangoDB default (ArangoDB docs)
6432 pgbouncer
3300 ceph             # Ceph monitor (msgr2)
2638 sybaseanywhere
1830 net8-cman
3872 oem-agent
3938 dbcontrol-agent
1158 dbcontrol-oms
1098 rmiactivation
4505 salt             # unassigned; Salt master publish port (Salt docs)
4506 salt             # unassigned; Salt master request port (Salt docs)
5665 icinga2          # unassigned; Icinga 2 API (Icinga docs)
5667 nsca             # unassigned; Nagios NSCA daemon (Nagios docs)
8649 ganglia          # unassigned; Ganglia gmond (Ganglia docs)
4317 opentelemetry    # OTLP gRPC
9390 otp              # OpenVAS transfer protocol
1241 nessus           # classic Nessus daemon
8069 odoo             # unassigned; Odoo HTTP default (Odoo docs)
8333 bitcoin          # unassigned; Bitcoin Core P2P default (Bitcoin Core docs)
64738 mumble          # dynamic range; Mumble server default (Mumble docs)
1352 lotusnote
1755 ms-streaming
3031 eppc
3052 apc-3052
3493 nut
3551 apcupsd
3632 distcc
3659 apple-sasl
3868 diameter
4353 f5-iquery
4500 ipsec-nat-t
4559 hylafax
5004 avt-profile-1
5005 avt-profile-2
5190 aol
5298 presence
5405 netsupport
6346 gnutella-svc
6347 gnutella-rtr
6566 sane-port
7100 font-service
7676 imqbrokerd
10110 nmea-0183
11371 hkp
17500 db-lsp
1524 ingreslock
1677 groupwise
2628 dict
2947 gpsd
3130 icpv2
4373 remctl
4460 ntske
5308 cfengine
6444 sge-qmaster
6445 sge-execd
6446 mysql-proxy
10809 nbd
11112 dicom
4172 pcoip
2427 mgcp-gateway
2727 mgcp-callagent
"""),
    ('D', 'Tier D: every other IANA-named system port 1-1023, in numeric order.', """
"""),
    ('E', "Tier E: registered ports 1024-49151, numeric within each group: (1) IANA names that Debian's /etc/services also carries, (2) IANA registrations that cite an RFC, (3) IANA registrations by major vendors (Microsoft, Cisco, Oracle, IBM, HP, Apple, VMware, SAP, Citrix, Novell, Sun, ...), cut off at 1100 ranked TCP ports.", """
1093 proofd
1094 rootd
1646 sa-msg-port
1649 kermit
2086 gnunet
2101 rtcm-sc104
2119 gsigatekeeper
2135 gris
2430 venus
2431 venus-se
2432 codasrv
2433 codasrv-se
2583 mon
2792 f5-globalsite
2811 gsiftp
4031 suucp
4094 sysrqd
4691 mtn
4949 munin
5556 freeciv
9667 xmms2
22125 dcap
22128 gsidcap
22273 wnn6
24554 binkp
1038 mtqp
1113 ltp-deepspace
1118 sacred
1153 c1222-acse
1847 slp-notify
1985 hsrp
2142 tdmoip
2268 amt
2855 msrp
2905 m3ua
3225 fcip-port
3232 mdtp
3305 odette-ftp
3420 ifcp-port
3503 lsp-ping
3544 teredo
3565 m2pa
3653 tsp
3761 gsakmp
3784 bfd-control
3785 bfd-echo
3864 asap-tcp-tls
3905 mupdate
4321 rwhois
4551 ieee-mih
4555 rsip
4556 dtn-bundle
4569 iax
4590 rid
5162 snmpssh-trap
5318 pkix-cmc
5353 mdns
5675 v5ua
5868 diameters
6068 gsmp-ancp
6084 reload-config
6619 odette-ftps
6640 ovsdb
7563 cfw
7626 simco
7744 raqmon-pdu
8471 pim-port
9875 sapv1
10162 snmptls-trap
20049 nfsrdma
1047 neod1
1048 neod2
1097 sunclustermgr
1102 adobeserver-1
1103 adobeserver-2
1124 hpvmmcontrol
1125 hpvmmagent
1126 hpvmmdata
1157 iascontrol
1159 oracle-oms
1167 cisco-ipsla
1188 hp-webadmin
1260 ibm-ssd
1270 opsmgr
1273 emc-gateway
1278 dellwebadmin-1
1279 dellwebadmin-2
1299 hp-sci
1366 netware-csp
1376 ibm-pps
1381 apple-licman
1405 ibm-res
1416 novell-lu6-2
1435 ibm-cics
1451 infoman
1461 ibm-wrless-lan
1477 ms-sna-server
1478 ms-sna-base
1512 wins
1525 prospero-np
1527 tlisrv
1529 coauthor
1571 rdb-dbs-disp
1586 ibm-abtact
1630 oraclenet8cman
1673 proshare-mc-1
1674 proshare-mc-2
1741 cisco-net-mgmt
1748 oracle-em1
1754 oracle-em2
1782 hp-hcip
1792 ibm-dt-2
1803 hp-hcip-gwy
1808 oracle-vp2
1809 oracle-vp1
1877 hp-webqosdb
1881 ibm-mqseries2
1885 vrtstrapserver
1918 can-nds
1919 can-dch
1920 can-ferret
1933 xmapi
1934 xaapi
1986 licensedaemon
1987 tr-rsrb-p1
1988 tr-rsrb-p2
1989 mshnet
1990 stun-p1
1991 stun-p2
1992 ipsendmsg
1993 snmp-tcp-port
1994 stun-port
1995 perf-port
1996 tr-rsrb-port
1997 gdp-port
1998 x25-svc-port
1999 tcp-id-port
2050 av-emb-config
2078 tpcsrvr
2148 veritas-ucl
2171 msfw-storage
2172 msfw-s-storage
2173 msfw-replica
2174 msfw-array
2175 airsync
2176 rapi
2206 hpocbus
2207 hpssd
2208 hpiod
2209 rimf-ps
2228 ehome-ms
2336 appleugcontrol
2371 rda
2393 ms-olap1
2394 ms-olap2
2460 ms-theater
2463 lsi-raid-mgmt
2481 giop
2482 giop-ssl
2512 citrixima
2513 citrixadmin
2525 ms-v-worlds
2544 novell-zen
2564 hp-3000-telnet
"""),
]

# ---------------------------------------------------------------------------
# UDP, in rank order.
UDP_TIERS = [
    ('A', 'Tier A: core UDP infrastructure: name, time, address assignment, management, Windows/SMB name services, discovery, VPN, authentication (judged order).', """
53 domain
123 ntp
161 snmp
137 netbios-ns
138 netbios-dgm
67 bootps
68 bootpc
69 tftp
500 isakmp
4500 ipsec-nat-t
1900 ssdp
5353 mdns
514 syslog
5355 llmnr
3702 ws-discovery
443 https
111 sunrpc
2049 nfs
1812 radius
1813 radius-acct
162 snmptrap
88 kerberos
464 kpasswd
389 ldap
5060 sip
1194 openvpn
51820 wireguard       # dynamic range; WireGuard conventional ListenPort (WireGuard docs / wg-quick examples)
1701 l2tp
623 asf-rmcp
631 ipp
520 router
1434 ms-sql-m
3478 stun
"""),
    ('B', 'Tier B: further UDP services of known software and standard protocols: legacy small services, industrial control, overlays, VoIP, routing, flow export (judged order).', """
11211 memcache
19 chargen
7 echo
17 qotd
13 daytime
9 discard
37 time
47808 bacnet
20000 dnp
44818 ethernet-ip-2
2222 ethernet-ip-1
502 mbap
4789 vxlan
6081 geneve
5683 coap
5684 coaps
3389 ms-wbt-server
5004 avt-profile-1
5005 avt-profile-2
4569 iax
2427 mgcp-gateway
2727 mgcp-callagent
1719 h323gatestat
1718 h323gatedisc
5061 sips
5349 stuns
177 xdmcp
513 who
517 talk
518 ntalk
512 biff
427 svrloc
546 dhcpv6-client
547 dhcpv6-server
853 domain-s
319 ptp-event
320 ptp-general
521 ripng
3784 bfd-control
3785 bfd-echo
4784 bfd-multi-ctl
1985 hsrp
646 ldp
6696 babel
49 tacacs
750 kerberos-iv
3283 net-assistant
5632 pcanywherestat
3074 xbox
6343 sflow
4739 ipfix
2152 gtp-user
2123 gtp-control
3799 radius-dynauth
1604 icabrowser
5351 pcp
5350 pcp-multicast
3544 teredo
5246 capwap-control
5247 capwap-data
10161 snmpdtls
10162 snmpdtls-trap
601 syslog-conn
20048 mountd
3130 icpv2
10080 amanda
7000 afs3-fileserver
7001 afs3-callback
7002 afs3-prserver
7003 afs3-vlserver
7004 afs3-kaserver
7005 afs3-volser
7007 afs3-bos
34962 profinet-rt
34963 profinet-rtm
34964 profinet-cm
5093 sentinel-lm
3052 apc-3052
6481 servicetags
4840 opcua-udp
8125 statsd           # unassigned; StatsD daemon default (StatsD docs)
64738 mumble          # dynamic range; Mumble voice (Mumble docs)
4011 altserviceboot
4791 roce
4754 gre-in-udp
"""),
    ('C', "Tier C: IANA names that Debian's /etc/services also carries, then IANA registrations that cite an RFC (numeric within each group).", """
163 cmip-man
164 cmip-agent
213 ipx
369 rpc2portmap
370 codaauth2
371 clearcase
538 gdomap
554 rtsp
636 ldaps
655 tinc
1646 sa-msg-port
2086 gnunet
2101 rtcm-sc104
2102 zephyr-srv
2103 zephyr-clt
2104 zephyr-hm
2430 venus
2431 venus-se
2432 codasrv
2433 codasrv-se
2583 mon
3205 isns
3493 nut
6346 gnutella-svc
6347 gnutella-rtr
7008 afs3-update
7009 afs3-rmtsys
1027 6a44
1038 mtqp
1113 ltp-deepspace
1118 sacred
1153 c1222-acse
1847 slp-notify
2083 radsec
2142 tdmoip
2268 amt
3225 fcip-port
3232 mdtp
3260 iscsi-target
3305 odette-ftp
3420 ifcp-port
3503 lsp-ping
3653 tsp
3761 gsakmp
3863 asap-udp
3905 mupdate
4191 dsmipv6
4321 rwhois
4341 lisp-data
4342 lisp-control
4551 ieee-mih
4555 rsip
4556 dtn-bundle
5436 pmip6-cntl
5437 pmip6-data
5675 v5ua
5900 rfb
6511 dccp-udp
6514 syslog-tls
6619 odette-ftps
6635 mpls-udp
6636 mpls-udp-dtls
6784 bfd-lag
7744 raqmon-pdu
7872 mipv6tls
8060 aero
9875 sapv1
9878 kca-service
9899 sctp-tunneling
9903 multicast-ping
10500 hip-nat-t
20049 nfsrdma
"""),
]

# ---------------------------------------------------------------------------
# IANA-named system ports (1-1023) not ranked above, one list for both protocols:
# `port name` when TCP and UDP share the name, `port tcp-name udp-name` when they
# differ, `-` where IANA names the port for one protocol only. TCP tier D is this
# list's TCP names (ports not ranked in tiers A-C); the UDP names of ports not
# ranked for UDP are the table's named-but-unranked entries.
IANA_SYSTEM_PORTS = """
1 tcpmux
2 compressnet
3 compressnet
5 rje
7 echo -
9 discard -
11 systat
13 daytime -
17 qotd -
18 msp
19 chargen -
20 ftp-data
21 - ftp
22 - ssh
23 - telnet
25 - smtp
27 nsw-fe
29 msg-icp
31 msg-auth
33 dsp
37 time -
38 rap
39 rlp
41 graphics
42 nameserver
43 nicname
44 mpm-flags
45 mpm
46 mpm-snd
47 ni-ftp
48 auditd
50 re-mail-ck
52 xns-time
54 xns-ch
55 isi-gl
56 xns-auth
58 xns-mail
61 ni-mail
62 acas
63 whoispp
64 covia
65 tacacs-ds
66 sql-net
67 bootps -
68 bootpc -
69 tftp -
70 gopher
71 netrjs-1
72 netrjs-2
73 netrjs-3
74 netrjs-4
76 deos
78 vettcp
79 finger
80 - http
82 xfer
83 mit-ml-dev
84 ctf
85 mit-ml-dev
86 mfcobol
89 su-mit-tg
90 dnsix
91 mit-dov
92 npp
93 dcp
94 objcall
95 supdup
96 dixie
97 swift-rvf
98 tacnews
99 metagram
101 hostname
102 - iso-tsap
103 gppitnp
104 acr-nema
105 csnet-ns
106 3com-tsmux
107 rtelnet
108 snagas
109 - pop2
110 - pop3
112 mcidas
113 - auth
115 sftp
116 ansanotify
117 uucp-path
118 sqlserv
119 - nntp
120 cfdptkt
121 erpc
122 smakynet
123 ntp -
124 ansatrader
125 locus-map
126 nxedit
127 locus-con
128 gss-xlicen
129 pwdgen
130 cisco-fna
131 cisco-tna
132 cisco-sys
133 statsrv
134 ingres-net
135 - epmap
136 profile
137 netbios-ns -
138 netbios-dgm -
139 - netbios-ssn
140 emfis-data
141 emfis-cntl
142 bl-idm
143 - imap
144 uma
145 uaac
146 iso-tp0
147 iso-ip
148 jargon
149 aed-512
150 sql-net
151 hems
152 bftp
153 sgmp
154 netsc-prod
155 netsc-dev
156 sqlsrv
157 knet-cmp
158 pcmail-srv
159 nss-routing
160 sgmp-traps
162 snmptrap -
163 cmip-man -
164 cmip-agent -
165 xns-courier
166 s-net
167 namp
168 rsvd
169 send
170 print-srv
171 multiplex
172 cl-1
173 xyplex-mux
174 mailq
175 vmnet
176 genrad-mux
177 xdmcp -
178 nextstep
179 - bgp
180 ris
181 unify
182 audit
183 ocbinder
184 ocserver
185 remote-kis
186 kis
187 aci
188 mumps
189 qft
190 gacp
191 prospero
192 osu-nms
193 srmp
194 - irc
195 dn6-nlm-aud
196 dn6-smm-red
197 dls
198 dls-mon
199 - smux
200 src
201 at-rtmp
202 at-nbp
203 at-3
204 at-echo
205 at-5
206 at-zis
207 at-7
208 at-8
209 qmtp
210 z39-50
211 914c-g
212 anet
213 ipx -
214 vmpwscs
215 softpc
216 cailic
217 dbase
218 mpp
219 uarps
220 imap3
221 fln-spx
222 rsh-spx
223 cdc
224 masqdialer
242 direct
243 sur-meas
244 inbusiness
245 link
246 dsp3270
247 subntbcst-tftp
248 bhfhs
256 rap
257 set
259 esro-gen
260 openport
261 nsiiops
262 arcisdms
263 hdap
264 bgmp
265 x-bone-ctl
266 sst
267 td-service
268 td-replica
269 manet
270 - gist
271 pt-tls -
280 http-mgmt
281 personal-link
282 cableport-ax
283 rescap
284 corerjd
286 fxp
287 k-block
300 tacacss -
308 novastorbakcup
309 entrusttime
310 bhmds
311 asip-webadmin
312 vslmp
313 magenta-logic
314 opalis-robot
315 dpsi
316 decauth
317 zannet
318 pkix-timestamp
319 ptp-event -
320 ptp-general -
321 pip
322 rtsps
323 rpki-rtr -
324 rpki-rtr-tls -
333 texar
344 pdap
345 pawserv
346 zserv
347 fatserv
348 csi-sgwp
349 mftp
350 matip-type-a
351 bhoetty
352 bhoedap4
353 ndsauth
354 bh611
355 datex-asn
356 cloanto-net-1
357 bhevent
358 shrinkwrap
359 nsrmp
360 scoi2odialog
361 semantix
362 srssend
363 rsvp-tunnel
364 aurora-cmgr
365 dtk
366 odmr
367 mortgageware
368 qbikgdp
369 rpc2portmap -
370 codaauth2 -
371 clearcase -
372 ulistproc
373 legent-1
374 legent-2
375 hassle
376 nip
377 tnetos
378 dsetos
379 is99c
380 is99s
381 hp-collector
382 hp-managed-node
383 hp-alarm-mgr
384 arns
385 ibm-app
386 asa
387 aurp
388 unidata-ldm
390 uis
391 synotics-relay
392 synotics-broker
393 meta5
394 embl-ndt
395 netcp
396 netware-ip
397 mptn
398 kryptolan
399 iso-tsap-c2
400 osb-sd
401 ups
402 genie
403 decap
404 nced
405 ncld
406 imsp
407 timbuktu
408 prm-sm
409 prm-nm
410 decladebug
411 rmt
412 synoptics-trap
413 smsp
414 infoseek
415 bnet
416 silverplatter
417 onmux
418 hyper-g
419 ariel1
420 smpte
421 ariel2
422 ariel3
423 opc-job-start
424 opc-job-track
425 icad-el
426 smartsdp
427 svrloc -
428 ocs-cmu
429 ocs-amu
430 utmpsd
431 utmpcd
432 iasd
433 nnsp
434 mobileip-agent
435 mobilip-mn
436 dna-cml
437 comscm
438 dsfgw
439 dasp
440 sgcp
441 decvms-sysmgt
442 cvc-hostd
444 snpp
445 - microsoft-ds
446 ddm-rdb
447 ddm-dfm
448 ddm-ssl
449 as-servermap
450 tserver
451 sfs-smp-net
452 sfs-config
453 creativeserver
454 contentserver
455 creativepartnr
456 macon-tcp macon-udp
457 scohelp
458 appleqtc
459 ampr-rcmd
460 skronk
461 datasurfsrv
462 datasurfsrvsec
463 alpes
465 - igmpv3lite
466 digital-vrc
467 mylex-mapd
468 photuris
469 rcp
470 scx-proxy
471 mondex
472 ljk-login
473 hybrid-pop
474 tn-tl-w1 tn-tl-w2
475 tcpnethaspsrv
476 tn-tl-fd1
477 ss7ns
478 spsc
479 iafserver
480 iafdbase
481 ph
482 bgs-nsi
483 ulpnet
484 integra-sme
485 powerburst
486 avian
487 saft
488 gss-http
489 nest-protocol
490 micom-pfs
491 go-login
492 ticf-1
493 ticf-2
494 pov-ray
495 intecourier
496 pim-rp-disc
497 retrospect
498 siam
499 iso-ill
501 stmf
503 intrinsa
504 citadel
505 mailbox-lm
506 ohimsrv
507 crs
508 xvttp
509 snare
510 fcp
511 passgo
512 exec -
513 login -
514 shell -
515 - printer
516 videotex
517 talk -
518 ntalk -
519 utime
520 efs -
521 ripng -
522 ulp
523 ibm-db2
524 ncp
525 timed
526 tempo
527 stx
528 custix
529 irc-serv
530 courier
531 conference
532 netnews
533 netwall
534 windream
535 iiop
536 opalis-rdv
537 nmsp
538 gdomap -
539 apertus-ldp
540 uucp
541 uucp-rlogin
542 commerce
543 klogin
544 kshell
545 appleqtcsrvr
546 dhcpv6-client -
547 dhcpv6-server -
548 - afpovertcp
549 idfp
550 new-rwho
551 cybercash
552 devshr-nts
553 pirp
555 dsf
556 remotefs
557 openvms-sysipc
558 sdnskmp
559 teedtap
560 rmonitor
561 monitor
562 chshell
563 - nntps
564 9pfs
565 whoami
566 streettalk
567 banyan-rpc
568 ms-shuttle
569 ms-rome
570 meter
571 meter
572 sonar
573 banyan-vip
574 ftp-agent
575 vemmi
576 ipcd
577 vnas
578 ipdd
579 decbsrv
580 sntp-heartbeat
581 bdp
582 scc-security
583 philips-vc
584 keyserver
586 password-chg
587 - submission
588 cal
589 eyelink
590 tns-cml
591 http-alt
592 eudora-set
593 - http-rpc-epmap
594 tpip
595 cab-protocol
596 smsd
597 ptcnameservice
598 sco-websrvrmg3
599 acp
600 ipcserver
602 xmlrpc-beep
603 idxp
604 tunnel
605 soap-beep
606 urm
607 nqs
608 sift-uft
609 npmp-trap
610 npmp-local
611 npmp-gui
612 hmmp-ind
613 hmmp-op
614 sshell
615 sco-inetmgr
616 sco-sysmgr
617 sco-dtmgr
618 dei-icda
619 compaq-evm
620 sco-websrvrmgr
621 escp-ip
622 collaborator
624 cryptoadmin
625 dec-dlm
626 asia
627 passgo-tivoli
628 qmqp
629 3com-amp3
630 rda
632 bmpp
633 servstat
634 ginad
635 rlzdbase
637 lanserver
638 mcns-sec
639 msdp
640 entrust-sps
641 repcmd
642 esro-emsdp
643 sanity
644 dwr
645 pssc
646 ldp -
647 dhcp-failover
648 rrp
649 cadview-3d
650 obex
651 ieee-mms
652 hello-port
653 repscmd
654 aodv
655 tinc -
656 spmp
657 rmc
658 tenfold
660 mac-srvr-admin
661 hap
662 pftp
663 purenoise
664 - asf-secure-rmcp
665 sun-dr
666 doom
667 disclose
668 mecomm
669 meregister
670 vacdsm-sws
671 vacdsm-app
672 vpps-qua
673 cimplex
674 acap
675 dctp
676 vpps-via
677 vpp
678 ggf-ncp
679 mrm
680 entrust-aaas
681 entrust-aams
682 xfr
683 corba-iiop
684 corba-iiop-ssl
685 mdc-portmapper
686 hcp-wismar
687 asipregistry
688 realm-rusd
689 nmap
690 vatp
691 msexch-routing
692 hyperwave-isp
693 connendp
694 ha-cluster
695 ieee-mms-ssl
696 rushd
697 uuidgen
698 olsr
699 accessnetwork
700 epp
701 lmp
702 iris-beep
704 elcsd
705 agentx
706 silc
707 borland-dsj
709 entrust-kmsh
710 entrust-ash
711 cisco-tdp
712 tbrpf
713 iris-xpc
714 iris-xpcs
715 iris-lwz
716 - pana
729 netviewdm1
730 netviewdm2
731 netviewdm3
741 netgw
742 netrcs
744 flexlm
747 fujitsu-dev
748 ris-cm
749 kerberos-adm
750 rfile -
751 pump
752 qrh
753 rrh
754 tell
758 nlogin
759 con
760 ns
761 rxe
762 quotad
763 cycleserv
764 omserv
765 webster
767 phonebook
769 vid
770 cadlock
771 rtip
772 cycleserv2
773 submit notify
774 rpasswd acmaint-dbd
775 entomb acmaint-transd
776 wpages
777 multiling-http
780 wpgs
800 mdbs-daemon
801 device
802 mbap-s
810 fcp-udp
828 itm-mcell-s
829 pkix-3-ca-ra
830 - netconf-ssh
831 netconf-beep
832 netconfsoaphttp
833 netconfsoapbeep
847 dhcp-failover2
848 gdoi
853 domain-s -
854 dlep
860 - iscsi
861 owamp-control owamp-test
862 twamp-control twamp-test
873 - rsync
886 iclcnet-locate
887 iclcnet-svinfo
888 cddbp accessbuilder
900 omginitialrefs
901 smpnameres
902 - ideafarm-door
903 ideafarm-panic
910 kink
911 xact-backup
912 apex-mesh
913 apex-edge
914 - rift-lies
915 - rift-ties
953 rndc -
989 ftps-data
990 - ftps
991 nas
992 telnets
993 - imaps
995 - pop3s
996 vsinet
997 maitrd
998 busboy puparp
999 puprouter
1000 cadlock2
1001 webpush -
1010 surf
1021 exp1
1022 exp2
"""

HEADER = """\
# Portolan port table: service names per port/protocol and our own frequency ranks.
#
# Licence and provenance: this file is Portolan's own work, distributed under the
# project's licence. Port numbers and service names are public facts from the IANA
# Service Name and Transport Protocol Port Number Registry; names of de-facto ports
# of widely deployed software come from that software's own documentation. The rank
# column is our own estimate made by the tiered method described in
# PORTS-SOURCES.md. Nothing here is derived from Nmap's nmap-services file.
#
# Generated by gen_ports.py (same directory); edit the lists there and rerun it.
#
# Format: UTF-8; lines starting with '#' are comments; blank lines are ignored.
# Data lines have exactly 3 TAB-separated fields:
#   port/proto   proto is tcp or udp, port is 0..65535; each pair appears at most once
#   name         lowercase service name, [a-z0-9][a-z0-9+._-]*
#   rank         frequency rank within the protocol (1 = most likely to be found
#                open on a host on an administrator's network), or '-' if unranked.
#                Ranks of each protocol run 1..=N without gaps.
#
# Order: ranked TCP by rank, ranked UDP by rank, then unranked entries by port.
"""

NAME_RE = re.compile(r"[a-z0-9][a-z0-9+._-]*\Z")


def parse_block(text, proto):
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 2:
            raise SystemExit(f"bad line in {proto} list: {raw!r}")
        port, name = int(fields[0]), fields[1]
        if not 0 <= port <= 65535:
            raise SystemExit(f"port out of range: {raw!r}")
        if not NAME_RE.match(name):
            raise SystemExit(f"bad service name: {raw!r}")
        out.append((port, proto, name))
    return out


def system_ports():
    """(port, tcp-name or None, udp-name or None) from IANA_SYSTEM_PORTS."""
    out = []
    for raw in IANA_SYSTEM_PORTS.splitlines():
        fields = raw.split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            raise SystemExit(f"bad line in IANA_SYSTEM_PORTS: {raw!r}")
        port, tcp, udp = int(fields[0]), fields[1], fields[-1]
        for name in (tcp, udp):
            if name != "-" and not NAME_RE.match(name):
                raise SystemExit(f"bad service name: {raw!r}")
        out.append((port, None if tcp == "-" else tcp, None if udp == "-" else udp))
    return out


def tier_body(proto, tier, body):
    """A tier's (port, proto, name) rows; TCP tier D comes from the system-port list."""
    if proto == "tcp" and tier == "D":
        return [(p, "tcp", t) for p, t, _ in system_ports() if t]
    return parse_block(body, proto)


def build():
    ranked = {}
    rows = []
    seen = set()
    for proto, tiers in (("tcp", TCP_TIERS), ("udp", UDP_TIERS)):
        rank = 0
        for tier, _desc, body in tiers:
            for port, proto_, name in tier_body(proto, tier, body):
                if (port, proto_) in seen:
                    raise SystemExit(f"duplicate entry {port}/{proto_}")
                seen.add((port, proto_))
                rank += 1
                rows.append((port, proto_, name, str(rank)))
        ranked[proto] = rank
    # UDP names of system ports not ranked for UDP: named, unranked.
    unranked = [(p, "udp", u, "-") for p, _, u in system_ports() if u and (p, "udp") not in seen]
    return rows + unranked, ranked


def read_etc_services(path="/etc/services"):
    names = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) < 2 or "/" not in fields[1]:
                    continue
                port, proto = fields[1].split("/", 1)
                names[(int(port), proto)] = [n.lower() for n in [fields[0]] + fields[2:]]
    except OSError:
        return None
    return names


def main(argv):
    rows, ranked = build()
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "ports.tsv")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER)
        f.write("\n")
        for port, proto, name, rank in rows:
            f.write(f"{port}/{proto}\t{name}\t{rank}\n")
    unranked = len(rows) - ranked["tcp"] - ranked["udp"]
    print(f"wrote {out}: {ranked['tcp']} ranked tcp, {ranked['udp']} ranked udp, {unranked} unranked")
    if "--check" in argv:
        etc = read_etc_services()
        if etc is None:
            print("no /etc/services to compare with")
            return
        differ = [(p, pr, n, etc[(p, pr)]) for p, pr, n, _ in rows if (p, pr) in etc and n not in etc[(p, pr)]]
        print(f"{len(differ)} entries whose name differs from /etc/services (informational):")
        for p, pr, n, e in differ:
            print(f"  {p}/{pr}: ours {n}, /etc/services {' '.join(e)}")


if __name__ == "__main__":
    main(sys.argv[1:])
