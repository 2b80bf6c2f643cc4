// Guard regions from a .pvl file: `madvise guard-remove` parses (and `madvise guard` still does), a wrong advice
// is a located error naming the choices, and the shipped scenarios/guard-regions.pvl, run on x86-native, ends
// with SIGSEGV exactly where a marker stood (after install, after MADV_DONTNEED, in the forked child, after
// mremap) and with a mapped, writable page where guard-remove cleared the marker.
using Pv.Abstractions.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;
using Pv.Engine.Programs;

namespace Pv.Scenarios.Tests;

public sealed class GuardScenarioTests
{
    private const string Header = "backend x86-native\ncpus 2\nmm a\n  vma 0x40000000 8K rw\n";

    [Fact]
    public void Madvise_guard_and_guard_remove_parse_into_their_operations()
    {
        var s = ScenarioParser.Parse("t.pvl", Header + "thread t cpu 0 mm a\n  madvise guard 0x40000000 8K\n  madvise guard-remove 0x40001000 4K\n");
        var ops = Assert.Single(s.Threads).Ops;
        Assert.Equal([OpKind.MadviseGuard, OpKind.MadviseGuardRemove], ops.Select(o => o.Kind));
        Assert.Equal((0x4000_1000UL, 0x1000UL), (ops[1].Address, ops[1].Length));
    }

    [Fact]
    public void An_unknown_advice_is_a_located_error_naming_guard_remove()
    {
        var e = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse("t.pvl", Header + "thread t cpu 0 mm a\n  madvise guard-rm 0x40000000 4K\n"));
        var d = Assert.Single(e.Diagnostics);
        Assert.Equal((6, 11), (d.At.Line, d.At.Column));
        Assert.Contains("guard-remove", d.Message);
        Assert.Contains("'guard-rm'", d.Message);
    }

    [Fact]
    public void The_guard_regions_scenario_segfaults_on_each_marker_and_faults_in_after_guard_remove()
    {
        var bound = BoundScenario.Load(Path.Combine(Fixtures.RepoRoot, "scenarios", "guard-regions.pvl"), ZooTests.Catalog.Value);
        using var compiled = bound.Compile(0, traceDepth: 512);
        var m = compiled.Build();
        var r = m.Run(new SequentialPolicy());
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        var guarder = m.Threads.Single(t => t.Name == "guarder");
        Assert.Equal([0x4000_1000UL, 0x4000_1000UL, 0x4000_1000UL, 0x4020_1000UL],
            guarder.RecentSteps.Where(s => s.What == "SIGSEGV guard marker").Select(s => s.A));
        var mm = guarder.Mm!;
        Assert.True(Zap.FindEntry(m, mm, 0x4020_1000, PageTableLevel.Pte, out var slot, out var level) && level == PageTableLevel.Pte);
        var pte = PteOps.Read(m, slot);
        Assert.True(pte.IsPresent && pte.IsWritable && !pte.Has(PteFlags.GuardMarker));
    }
}
