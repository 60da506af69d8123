# Channel tests (proto/chan_*): real TCP on loopback, each test binary makes
# a throwaway PKI with deploy/dpfl-pki in a temporary directory, so they
# need the openssl CLI. Per-test timeouts keep a hung handshake from
# holding the suite for the default 120 s.
foreach(t proto_test_chan proto_test_chan_robust proto_test_chan_recovery)
    if(TEST ${t})
        set_tests_properties(${t} PROPERTIES TIMEOUT 60
                             LABELS "unit;proto;channel")
    endif()
endforeach()
