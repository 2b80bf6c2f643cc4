// Verdicts a kernel engineer can act on, through the real loader and plugins: concurrent scenarios that a correct
// kernel runs cleanly (two zaps of one range racing a reader, MADV_FREE reclaim racing DONTNEED, mremap racing
// unmap_mapping_range or truncate, a zapped page-cache page faulted back) stay clean under PCT and random search on
// every fixed CPU backend; the historic bug each shape hides is found with its era toggle off; the minimiser keeps
// the bug it was given; and an engine invariant failure is an internal error carrying its schedule, never a verdict.
using Pv.Engine;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class TrustworthyVerdictTests
{
    /// <summary>Scenario bodies (everything but the backend line) a correct kernel must run cleanly.</summary>
    private static readonly Dictionary<string, string> Valid = new()
    {
        // A refault after the first zap fills a fresh TLB entry; the second zap's deferred flush is legal until its own
        // tlb_finish_mmu: neither is the first madvise's fault.
        ["two-zaps-and-a-refault"] = """
            cpus 3
            mm proc
              vma 0x40000000 8K rw
              populate 0x40000000 8K
            thread a cpu 0 mm proc
              madvise dontneed 0x40000000 8K
              write 0x40000000
            thread b cpu 1 mm proc
              madvise dontneed 0x40000000 8K
            thread c cpu 2 mm proc
              read 0x40000000 times 10
            """,
        // try_to_unmap_one holds the PTL from ptep_clear_flush to the restore of a dirtied PTE.
        ["reclaim-vs-dontneed"] = """
            cpus 3
            mm proc
              vma 0x40000000 8K rw
              populate 0x40000000 8K
            thread a cpu 0 mm proc
              madvise free 0x40000000 8K
              reclaim
            thread b cpu 1 mm proc
              madvise dontneed 0x40000000 8K
              write 0x40000000
            thread c cpu 2 mm proc
              write 0x40000000 times 5
              read 0x40001000 times 5
            """,
        // The new VMA is on i_mmap before the PTEs move, and they move under the rmap locks: unmap_mapping_range finds
        // every mapping at the old or the new address before the driver revokes the PFNs.
        ["mremap-vs-unmap-mapping-range"] = """
            cpus 3
            device gpu pages 2
            mm proc
              vma 0x40000000 8K rw shared pfnmap device gpu
              populate 0x40000000 8K
            thread a cpu 0 mm proc
              mremap 0x40000000 8K 0x40200000
            thread b cpu 1 mm proc
              unmap-mapping-range gpu pages 2
              revoke gpu pages 2
            thread c cpu 2 mm proc
              read 0x40200000 times 5
            """,
        // A populated page-cache page carries the mapping's reference beside the cache's: a zap does not free it.
        ["page-cache-page-zapped-and-refaulted"] = """
            cpus 2
            file lib pages 2
            mm proc
              vma 0x40000000 8K rw shared file lib
              populate 0x40000000 8K
            thread a cpu 0 mm proc
              madvise dontneed 0x40000000 8K
              read 0x40000000
            thread b cpu 1 mm proc
              truncate lib pages 1
              read 0x40001000
            """,
        // munmap of part of a device VMA splits it; the split takes i_mmap_rwsem, so the driver's rmap walk sees the
        // VMA either whole or split, never a shrunk VMA without its tail (found by pv soak).
        ["split-vs-unmap-mapping-range"] = """
            cpus 3
            device gpu pages 2
            mm proc
              vma 0x50000000 8K rw shared pfnmap device gpu
              populate 0x50000000 8K
            thread a cpu 0 mm proc
              munmap 0x50000000 4K
            thread b cpu 1 mm proc
              unmap-mapping-range gpu pgoff 1 pages 1
              revoke gpu pgoff 1 pages 1
            thread c cpu 2 mm proc
              read 0x50001000 times 12
            """,
        ["mremap-vs-truncate"] = """
            cpus 3
            file lib pages 1
            mm proc
              vma 0x40000000 4K r shared file lib
              populate 0x40000000 4K ro
            thread mover cpu 0 mm proc
              mremap 0x40000000 4K 0x40200000
            thread truncater cpu 1 mm proc
              truncate lib pages 1
            thread reader cpu 2 mm proc
              read 0x40000000 times 6
            """,
    };

    public static TheoryData<string, string> ValidOnFixedBackends()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in Valid.Keys)
            foreach (var backend in new[] { "x86-native", "xen-pv", "arm64-native" })
                data.Add(name, backend);
        return data;
    }

    [Theory]
    [InlineData("z1-gup-fast-vs-munmap-fixed.pvl", 13)]
    [InlineData("z9-nested-flush-dontneed-race-fixed.pvl", 10)]
    public void A_hardware_scenario_is_refused_on_uml_not_searched(string file, int populateLine)
    {
        // UML's kernel never runs on a hardware MMU: run across the two, the backend's flushes miss translations it never
        // made, and the oracle reported O6 (a populated page with no host mapping), or O1 from a second CPU, that no UML
        // kernel can reach. Without an mmu line the backend's model is the scenario's, so its hardware lines are refused.
        var e = Assert.Throws<ScenarioException>(() => BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", file), ZooTests.Catalog.Value, "uml"));
        var first = e.Diagnostics[0];
        Assert.Equal(populateLine, first.At.Line);
        Assert.StartsWith("backend 'uml' (from --backend) translates through host mappings (User-Mode Linux: no hardware TLB): 'populate' writes PTEs", first.Message);
        Assert.Contains(e.Diagnostics, d => d.Message.Contains("User-Mode Linux is uniprocessor"));
    }

    /// <summary>Scenario text bound to the repository's plugins.json.</summary>
    private static BoundScenario Bind(string text) => BoundScenario.Bind(ScenarioParser.Parse("test.pvl", text), ZooTests.Catalog.Value);

    /// <summary>A zoo file bound to the repository's plugins.json.</summary>
    private static BoundScenario Zoo(string file) => BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", file), ZooTests.Catalog.Value);

    /// <summary>The first violation of a search from seed 0, or null.</summary>
    private static RunResult? FirstViolation(BoundScenario bound, string strategy, long schedules)
    {
        using var compiled = bound.Compile(0);
        return ScenarioRunner.Search(compiled, new SearchOptions(strategy, schedules, 0)).Violation;
    }

    [Theory]
    [MemberData(nameof(ValidOnFixedBackends))]
    public void A_valid_concurrent_scenario_is_clean_on_a_fixed_backend(string name, string backend)
    {
        var bound = Bind($"backend {backend}\n" + Valid[name]);
        foreach (var strategy in new[] { "pct", "random" })
        {
            var v = FirstViolation(bound, strategy, 1500);
            Assert.True(v is null, $"{name} on {backend} ({strategy}): {v?.Report?.Format()}");
        }
    }

    [Theory]
    [InlineData("two-zaps-and-a-refault", "nested-flush", "O3")]
    [InlineData("mremap-vs-truncate", "mremap-flush", "O1")]
    public void The_same_shape_with_the_era_toggle_off_is_found(string name, string toggle, string invariant) =>
        Assert.Equal(invariant, FirstViolation(Bind($"backend x86-native\noption {toggle} off\n" + Valid[name]), "pct", 10_000)?.Report?.Violation.Id.ToString());

    [Fact]
    public void O3_blames_the_madvise_that_returned_while_a_nested_zap_still_held_the_flush()
    {
        // Z9 with the fix off: two MADV_DONTNEEDs of one range, a third CPU reading it.
        var v = FirstViolation(Zoo("z9-nested-flush-dontneed-race.pvl"), "pct", 10_000)!.Report!.Violation;
        Assert.Equal(InvariantId.O3, v.Id);
        Assert.Equal("reader", v.Agent);
        // The culprit returned; the other zap had cleared the PTEs and was still deferring its flush.
        Assert.Matches("^madvise\\(MADV_DONTNEED\\) by (first|second)$", v.Culprit);
    }

    [Fact]
    public void The_minimiser_keeps_the_driver_unmap_the_revoke_depends_on()
    {
        // Z3 with the fix off: dropping unmap_mapping_range would leave a revoke of a still-mapped PFN, a driver bug,
        // not the stale TLB entry munmap left behind. The shrunk counterexample must blame the same promise.
        var bound = Zoo("z3-pfnmap-unmap-mapping-range.pvl");
        var found = FirstViolation(bound, "pct", 10_000)!;
        Assert.Equal("unmap_mapping_range by driver", found.Report!.Violation.Culprit);
        var min = ScenarioRunner.Minimise(bound, 0, found);
        Assert.DoesNotContain(("driver", 0), min.Omitted.Ops);
        Assert.True(ScenarioRunner.SameBug(found.Report.Violation, min.Result.Report!.Violation));
        // Replaying the minimised schedule strictly reproduces it.
        using var again = bound.Compile(0, min.Omitted);
        var replayed = again.Build().Run(new ReplayPolicy(min.Result.Schedule));
        Assert.True(ScenarioRunner.SameBug(found.Report.Violation, replayed.Report!.Violation));
    }

    [Fact]
    public void An_engine_invariant_failure_is_an_internal_error_with_its_schedule()
    {
        using var compiled = Bind("backend x86-native\ncpus 2\nmm proc\n  vma 0x40000000 4K rw\n  populate 0x40000000 4K\nthread a cpu 0 mm proc\n  read 0x40000000\n").Compile(0);
        var m = compiled.Build();
        var page = m.Memory.Alloc(Pv.Abstractions.Memory.FrameKind.DataPage);
        m.Memory.Free(page);
        // A step that puts a page nobody holds: the engine's own bookkeeping is broken, not the scenario.
        var t = m.AddThread("buggy", ThreadKind.Kernel, 1, null);
        t.Enqueue(PutFreed(m, page));
        var e = Assert.Throws<SimulationInternalError>(() => m.Run(new SequentialPolicy()));
        Assert.Equal("buggy", e.Agent);
        Assert.Contains("put_page", e.Message);
        Assert.Equal(e.Step + 1, e.Schedule.Count);
    }

    private static IEnumerable<Step> PutFreed(Machine m, Pv.Abstractions.Memory.Pfn page)
    {
        m.Memory.Put(page);
        yield return Step.Yield;
    }
}
