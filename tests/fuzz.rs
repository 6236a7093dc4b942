//! Bounded fuzzing in CI: random bytes and mutated valid inputs through the settings loader and
//! the whole check path (parser + registry). Nothing may panic; errors must render.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use opencensus_settings::{Settings, check};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "opencensus.trace.samplers.ProbabilitySampler(rate=0.5)",
    "opencensus.ext.azure.trace_exporter.AzureExporter(\n    service_name='foobar',\n)",
    "FileExporter(file_name='x.json', file_mode='a', transport=AsyncTransport)",
    "ParentBased(root=TraceIdRatioBased(rate=0.25))",
    "CompositePropagator(propagators=[TraceContextPropagator(), W3CBaggagePropagator()])",
    "PrintExporter(transport=opencensus.common.transports.sync.SyncTransport)",
];

const FILE_SEED: &str = "[OPENCENSUS.TRACE]\nSAMPLER = \"ProbabilitySampler(rate=0.5)\"\nEXPORTER = \"\"\"PrintExporter(\n)\"\"\"\nEXCLUDELIST_PATHS = [\"_ah/health\", \"/healthz\", \"https://example.com/x\"]\nEXCLUDELIST_HOSTNAMES = [\"example.com:8080\"]\n";

fn mutate(seed: &str, ops: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for &(pos, op, c) in ops {
        if chars.is_empty() {
            chars.push(c);
            continue;
        }
        let i = pos % chars.len();
        match op % 4 {
            0 => {
                chars.remove(i);
            }
            1 => chars.insert(i, c),
            2 => chars[i] = c,
            _ => chars.truncate(i),
        }
    }
    chars.into_iter().collect()
}

fn run_spec(key: &str, spec: &str) {
    let outcome = check(
        Settings::loader()
            .env([(format!("OPENCENSUS__TRACE__{key}"), spec.to_string())])
            .current_dir("/nonexistent-opencensus-dir")
            .executable_dir(None),
    );
    let _ = outcome.to_string();
}

fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '(', ')', '\'', '"', ',', '=', '[', ']', '{', '}', '.', '\\', '\n', '#', ' ', '*', '/',
            'é', '0', '_'
        ]),
        any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_specs_never_panic(s in "\\PC{0,80}") {
        for key in ["SAMPLER", "EXPORTER", "PROPAGATOR", "EXCLUDELIST_PATHS"] {
            run_spec(key, &s);
        }
    }

    #[test]
    fn mutated_specs_never_panic(
        seed in prop::sample::select(SEEDS.to_vec()),
        ops in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_char()), 1..6),
    ) {
        let spec = mutate(seed, &ops);
        for key in ["SAMPLER", "EXPORTER", "PROPAGATOR"] {
            run_spec(key, &spec);
        }
    }

    #[test]
    fn random_and_mutated_files_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        ops in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_char()), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for content in [bytes.clone(), mutate(FILE_SEED, &ops).into_bytes()] {
            let path = dir.path().join("opencensus.toml");
            std::fs::write(&path, &content).unwrap();
            let outcome = check(
                Settings::loader()
                    .env(Vec::<(String, String)>::new())
                    .config_file(&path)
                    .executable_dir(None),
            );
            let _ = outcome.to_string();
        }
    }

    #[test]
    fn random_environments_never_panic(
        name in prop::sample::select(vec![
            "OPENCENSUS__TRACE__SAMPLER", "OPENCENSUS__TRACE__EXCLUDELIST_PATHS", "opencensus__x__y",
            "OPENCENSUS__", "OPENCENSUS____", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
            "OTEL_PROPAGATORS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED", "OPENCENSUS_SETTINGS",
            "OPENCENSUS_TRACE_SAMPLER",
        ]),
        value in "\\PC{0,40}",
    ) {
        let outcome = check(
            Settings::loader()
                .env([(name.to_string(), value)])
                .current_dir("/nonexistent-opencensus-dir")
                .executable_dir(None),
        );
        let _ = outcome.to_string();
    }
}
