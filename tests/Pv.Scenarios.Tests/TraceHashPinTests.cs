// The run hash is how two runs are compared bit for bit (determinism, reset machines, the conformance kit), so
// nothing about how a trace is printed may change it. The fingerprints below were recorded before the trace
// renderer existed (labels, interrupt-context events, step notes): every scenario the repository ships, under PCT
// and random schedules, must still hash to them. A change here is a change of what a run does, not of its looks.
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Hosting.Composition;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class TraceHashPinTests
{
    private static readonly Dictionary<string, string> Recorded = new(StringComparer.Ordinal)
    {
        ["scenarios/fork-cow.pvl"] = "c865ed2282490aaa",
        ["scenarios/guard-regions.pvl"] = "11b5fbc18a7cfc44",
        ["scenarios/selftests/guard-basic.pvl"] = "0cd529a477c0f213",
        ["scenarios/selftests/guard-dontneed-anon.pvl"] = "082dca88e354739d",
        ["scenarios/selftests/guard-dontneed-file.pvl"] = "3d5caeaa6d306ce8",
        ["scenarios/selftests/guard-fork-cow.pvl"] = "3841d4158a90ba3e",
        ["scenarios/selftests/guard-fork.pvl"] = "bba3a6a788f34d68",
        ["scenarios/selftests/guard-lazyfree.pvl"] = "59ad0823494aa313",
        ["scenarios/selftests/guard-map-private.pvl"] = "5fe01f6b8c705ba9",
        ["scenarios/selftests/guard-mprotect.pvl"] = "c7c1e77dbb643c20",
        ["scenarios/selftests/guard-mremap-move.pvl"] = "50dcc2d58b2b1e1a",
        ["scenarios/selftests/guard-munmap.pvl"] = "4104cc6b1f04241f",
        ["scenarios/selftests/guard-populate.pvl"] = "39144468eb151a32",
        ["scenarios/selftests/guard-split-merge.pvl"] = "5986bb8bf5f16613",
        ["scenarios/selftests/mremap-move-data.pvl"] = "59c5da4c89bb884a",
        ["scenarios/selftests/mremap-move-pmd.pvl"] = "c87392bd705e5467",
        ["scenarios/workload-munmap-heavy.pvl"] = "0ab0eb901658ecdd",
        ["scenarios/workload-munmap-preempted.pvl"] = "9ddbf6cea656849c",
        ["scenarios/zoo/z1-gup-fast-vs-munmap-arm64-immediate-free.pvl"] = "3b8f46d2724b4fac",
        ["scenarios/zoo/z1-gup-fast-vs-munmap-arm64.pvl"] = "27a14d511d02e491",
        ["scenarios/zoo/z1-gup-fast-vs-munmap-fixed.pvl"] = "39f2a5a9fa5a3b06",
        ["scenarios/zoo/z1-gup-fast-vs-munmap-x86-native.pvl"] = "ac9facaf33e4211c",
        ["scenarios/zoo/z1-gup-fast-vs-munmap.pvl"] = "c2a56686127a5235",
        ["scenarios/zoo/z10-mremap-truncate-stale-tlb-fixed.pvl"] = "18c20527fd497d07",
        ["scenarios/zoo/z10-mremap-truncate-stale-tlb.pvl"] = "85b84dfccad21681",
        ["scenarios/zoo/z11-collapse-gup-fast-sync-fixed.pvl"] = "0a50d85f6f939b4f",
        ["scenarios/zoo/z11-collapse-gup-fast-sync.pvl"] = "4766975dc48ddc72",
        // The KVM runs (and workload-munmap-preempted) re-pinned when the guest's steal_time cmpxchg became a trace event.
        ["scenarios/zoo/z13-kvm-steal-time-lost-flush-fixed.pvl"] = "25c387bc3fa9de73",
        ["scenarios/zoo/z13-kvm-steal-time-lost-flush.pvl"] = "51988b453fa62c05",
        ["scenarios/zoo/z14-kvm-pv-flush-immediate-free-fixed.pvl"] = "bd081f20421b9ed2",
        ["scenarios/zoo/z14-kvm-pv-flush-immediate-free.pvl"] = "9b2bffc3e5541f94",
        // Added with the Hyper-V backend (after the trace renderer): pinned as first recorded.
        ["scenarios/zoo/z12-hyperv-gup-fast-vs-munmap-ex-fixed.pvl"] = "4e37e7849ccddf86",
        ["scenarios/zoo/z12-hyperv-gup-fast-vs-munmap-fixed.pvl"] = "c1da54355a1cc04a",
        ["scenarios/zoo/z12-hyperv-gup-fast-vs-munmap.pvl"] = "c7ce280f8dcb3d6d",
        ["scenarios/zoo/z2-smmu-upgrade-livelock-btm.pvl"] = "7a582243cc6d9e1b",
        ["scenarios/zoo/z2-smmu-upgrade-livelock-fixed.pvl"] = "c5be44857bc346ae",
        ["scenarios/zoo/z2-smmu-upgrade-livelock-upgrade-event.pvl"] = "de6462c67a3eb3a6",
        ["scenarios/zoo/z2-smmu-upgrade-livelock.pvl"] = "806f6e47c8db376f",
        ["scenarios/zoo/z3-pfnmap-unmap-mapping-range-fixed.pvl"] = "a7c4168a1d49fe7d",
        ["scenarios/zoo/z3-pfnmap-unmap-mapping-range.pvl"] = "0e47c78c93f9aa68",
        ["scenarios/zoo/z4-uml-missing-kernel-sync.pvl"] = "fa9ea4d829e045e0",
        ["scenarios/zoo/z4-uml-missing-sync-mark-fixed.pvl"] = "94abef1a933479e0",
        ["scenarios/zoo/z4-uml-missing-sync-mark.pvl"] = "91852e22540f00c0",
        ["scenarios/zoo/z4-uml-pre-2024.pvl"] = "6d8ea0a8fce19a70",
        ["scenarios/zoo/z5-lazy-tlb-speculative-walk-6.15.pvl"] = "739f8f7fdddca161",
        ["scenarios/zoo/z5-lazy-tlb-speculative-walk-fixed.pvl"] = "6f79a2b0da75202d",
        ["scenarios/zoo/z5-lazy-tlb-speculative-walk.pvl"] = "f105db372051e074",
        ["scenarios/zoo/z6-batch-failure-walk-cache-arm64-fixed.pvl"] = "c82910033dc6c634",
        ["scenarios/zoo/z6-batch-failure-walk-cache-arm64.pvl"] = "9fda5cd0aed8c749",
        ["scenarios/zoo/z6-batch-failure-walk-cache-fixed.pvl"] = "d7194904e39040e6",
        ["scenarios/zoo/z6-batch-failure-walk-cache.pvl"] = "93fce1ba20cc7e19",
        ["scenarios/zoo/z7-collapse-flush-lazy-walk-cache-fixed.pvl"] = "30eb0eff16010970",
        ["scenarios/zoo/z7-collapse-flush-lazy-walk-cache.pvl"] = "5cc677ff12a9489d",
        ["scenarios/zoo/z8-switch-mm-window-skipped-flush-fixed.pvl"] = "9082335c698647a5",
        ["scenarios/zoo/z8-switch-mm-window-skipped-flush.pvl"] = "d4c5229b4a45e643",
        ["scenarios/zoo/z9-nested-flush-dontneed-race-fixed.pvl"] = "61a0a46cce18b404",
        ["scenarios/zoo/z9-nested-flush-dontneed-race.pvl"] = "d361afabfc207904",
    };

    [Fact]
    public void Every_shipped_scenario_hashes_as_recorded_before_the_trace_renderer()
    {
        var found = Directory.GetFiles(Path.Combine(Fixtures.RepoRoot, "scenarios"), "*.pvl", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Fixtures.RepoRoot, f).Replace('\\', '/')).Order(StringComparer.Ordinal)
            .ToDictionary(f => f, Fingerprint, StringComparer.Ordinal);
        string table = string.Join(Environment.NewLine, found.Select(kv => $"        [\"{kv.Key}\"] = \"{kv.Value}\","));
        Assert.True(Recorded.Count == found.Count && found.All(kv => Recorded.GetValueOrDefault(kv.Key) == kv.Value),
            $"the run hashes changed:{Environment.NewLine}{table}");
    }

    /// <summary>The hashes of eight PCT and eight random schedules of <paramref name="file"/>, folded into one.</summary>
    private static string Fingerprint(string file)
    {
        var bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, file), ZooTests.Catalog.Value);
        using var compiled = bound.Compile(seed: 0);
        ulong fold = 0;
        for (ulong seed = 0; seed < 16; seed++)
        {
            ISchedulePolicy policy = seed % 2 == 0 ? new PctPolicy(seed, 3, 64) : new RandomPolicy(seed);
            var m = compiled.Build();
            ulong hash;
            try
            {
                hash = m.Run(policy).TraceHash;
            }
            catch (Exception e) when (e is ProgramException or PluginFaultException)
            {
                hash = (ulong)m.Schedule.Count;
            }
            fold = (fold ^ hash) * 0x100000001B3UL;
        }
        return fold.ToString("x16");
    }
}
