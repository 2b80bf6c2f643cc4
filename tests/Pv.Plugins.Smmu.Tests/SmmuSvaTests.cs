// The SMMUv3 SVA backends: the CMDQ_MAX_TLBI_OPS switch, BTM and ATC invalidation, and release. (Z2 across the
// four backends is scenarios/zoo/z2-*.pvl, run by the zoo test.)
// Every verdict comes from the oracle watching the device's accesses; the backends differ only in plugins.json.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Devices;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;
using Pv.Hosting.Composition;

namespace Pv.Plugins.Smmu.Tests;

public sealed class SmmuSvaTests
{
    private const ulong X = SmmuRig.X;
    private const ulong Page = PageGeometry.PageSize;

    /// <summary>
    /// Without range invalidation, munmap of 511 pages sends 511 CMD_TLBI_NH_VA and no ASID invalidation; of 512 pages
    /// (arm64 turns it into flush_tlb_mm too) one CMD_TLBI_NH_ASID and no VA command. The range starts one page into a
    /// PTE table and a mapped page follows it, so no page table is freed (whose flush would add a VA command), and the
    /// gather holds all the pages, so one flush covers the range.
    /// </summary>
    [Theory]
    [InlineData(511, 511, 0)]
    [InlineData(512, 0, 1)]
    public void Munmap_switches_to_one_asid_invalidation_at_512_pages(int pages, long vaCommands, long asidCommands)
    {
        using var r = new SmmuRig("arm64-smmu-v6.6", vmaPages: 514, maxGatherBatch: 1024);
        for (ulong i = 0; i < 514; i++) r.Map(X + i * Page, SmmuRig.UserRw);
        var dev = r.Device();
        dev.Enqueue(dev.Access(X + Page, AccessKind.Read));
        var cpu = r.Cpu(0, t => Munmap.Run(r.M, t, r.Mm, X + Page, (ulong)pages * Page));
        var after = new DmaResult();
        dev.Enqueue(SmmuRig.After(cpu));
        dev.Enqueue(dev.Access(X + Page, AccessKind.Read, after));
        var run = r.Run();
        Assert.True(run.Outcome == RunOutcome.Completed, run.Report?.Format());
        Assert.Equal(DmaStatus.Failed, after.Status); // the cached entry went with the invalidation; the VMA is gone
        Assert.Equal(vaCommands, r.Counter("smmu.cmd.tlbi_nh_va"));
        Assert.Equal(asidCommands, r.Counter("smmu.cmd.tlbi_nh_asid"));
        Assert.Equal(1, r.Counter("smmu.cmd.sync"));
        Assert.Equal(0, r.Counter("smmu.cmd.atc_inv"));
    }

    /// <summary>With BTM the CPU's TLBIs cover the SMMU TLB: no explicit TLBI; the ATC is still invalidated by command.</summary>
    [Fact]
    public void Btm_skips_explicit_tlbis_but_not_atc_invalidation()
    {
        using var r = new SmmuRig("arm64-smmu-btm");
        for (ulong i = 0; i < 4; i++) r.Map(X + i * Page, SmmuRig.UserRw);
        var dev = r.Device(ats: true);
        for (ulong i = 0; i < 4; i++) dev.Enqueue(dev.Access(X + i * Page, AccessKind.Read));
        var cpu = r.Cpu(0, t => Munmap.Run(r.M, t, r.Mm, X, 4 * Page));
        var after = new DmaResult();
        dev.Enqueue(SmmuRig.After(cpu));
        dev.Enqueue(dev.Access(X, AccessKind.Read, after));
        var run = r.Run();
        Assert.True(run.Outcome == RunOutcome.Completed, run.Report?.Format());
        Assert.Equal(DmaStatus.Failed, after.Status);
        Assert.Equal(0, r.Counter("smmu.cmd.tlbi_nh_va") + r.Counter("smmu.cmd.tlbi_nh_asid"));
        Assert.Equal(1, r.Counter("smmu.cmd.atc_inv"));
        Assert.Equal(1, r.Counter("smmu.cmd.sync"));
    }

    /// <summary>
    /// A v6.6 driver on a CPU whose flushes do not call arch_invalidate_secondary_tlbs keeps translations of unmapped,
    /// freed pages: the device reaches a freed frame through its TLB (O1). The model does not paper over a mismatch.
    /// </summary>
    [Fact]
    public void A_v66_driver_behind_a_pre_66_cpu_flush_uses_freed_pages()
    {
        using var r = new SmmuRig("arm64-smmu-v6.6", cpuV66: false);
        r.Map(X, SmmuRig.UserRw);
        var dev = r.Device();
        var cpu = r.Cpu(0, t => Munmap.Run(r.M, t, r.Mm, X, Page));
        dev.Enqueue(dev.Access(X, AccessKind.Read));
        dev.Enqueue(SmmuRig.After(cpu));
        dev.Enqueue(dev.Access(X, AccessKind.Read));
        var run = r.Run();
        Assert.Equal(RunOutcome.Violation, run.Outcome);
        Assert.Equal(InvariantId.O1, run.Report!.Violation.Id);
    }

    /// <summary>exit_mmap's release makes the CD fault and invalidates the ASID and the ATC; a later DMA gets INVALID.</summary>
    [Fact]
    public void Release_on_exit_invalidates_and_faults_later_dma()
    {
        using var r = new SmmuRig("arm64-smmu-btm");
        r.Map(X, SmmuRig.UserRw);
        var dev = r.Device(ats: true);
        var after = new DmaResult();
        dev.Enqueue(dev.Access(X, AccessKind.Read));
        var cpu = r.Cpu(0, t => Munmap.ExitMmap(r.M, t, r.Mm));
        dev.Enqueue(SmmuRig.After(cpu));
        dev.Enqueue(dev.Access(X, AccessKind.Read, after));
        var run = r.Run();
        Assert.True(run.Outcome == RunOutcome.Completed, run.Report?.Format());
        Assert.Equal(DmaStatus.Failed, after.Status);
        Assert.Equal(1, r.Counter("smmu.cmd.tlbi_nh_asid")); // explicit even with BTM
        Assert.True(r.Counter("smmu.cmd.atc_inv") >= 1);
    }

    [Fact]
    public void Bad_options_are_refused_with_the_key()
    {
        string plugin = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "plugins", "Pv.Plugins.Smmu", "Pv.Plugins.Smmu.dll"));
        string dir = Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string config = Path.Combine(dir, "plugins.json");
        File.WriteAllText(config, $$"""
            { "plugins": [ { "name": "smmu", "path": {{System.Text.Json.JsonSerializer.Serialize(plugin)}} } ],
              "backends": [ { "name": "bad-era", "plugin": "smmu", "archProfile": "arm64", "options": { "era": "v6.5" } },
                            { "name": "btm-bad", "plugin": "smmu", "archProfile": "arm64", "options": { "btm": "sometimes" } },
                            { "name": "old-era", "plugin": "smmu", "archProfile": "arm64", "options": { "era": "pre-6.6" } },
                            { "name": "bad-cost", "plugin": "smmu", "archProfile": "arm64", "cost": { "SmmuCommandSync": 1 } } ] }
            """);
        using var catalog = Pv.Hosting.PluginCatalog.Load(config);
        Assert.Equal(
            [("$.backends[2].options.era", 4, "option 'era': 'pre-6.6' was renamed '6.5'"),
             ("$.backends[3].cost.SmmuCommandSync", 5, "cost key 'SmmuCommandSync' is neither an engine cost nor one backend 'bad-cost' declares; " +
                "known keys: tlbHit, walkLevel, localInvlpg, localFullFlush, globalFlush, ipiInitiator, ipiPerExtraTarget, " +
                "ipiTargetInterrupt, hypercall, firmwareCall, firmwareCallPerTarget, broadcastTlbiPerPage, rcuGracePeriod, hostSyscall, stubRoundTrip, pageFault, cmdqSync, atcInv")],
            catalog.Diagnostics.Select(d => (d.Location!.JsonPath, d.Location.Line, d.Message)));
        var diagnostics = BackendHost.StartupCheck(catalog);
        Assert.Equal(
            [("$.backends[0].options.era", 2, "option 'era': found 'v6.5'; expected a kernel version such as 6.6 or 2.6.39"),
             ("$.backends[1].options.btm", 3, "option 'btm': found 'sometimes'; expected true or false")],
            diagnostics.Select(d => (d.Location!.JsonPath, d.Location.Line, d.Message)));
    }

    [Fact]
    public void The_command_queue_costs_are_declared_and_reach_the_smmu()
    {
        using var r = new SmmuRig("arm64-smmu-v6.6");
        Assert.Equal((3000L, 1500L), (r.M.Cost.Value("cmdqSync"), r.M.Cost.Value("atcInv")));
    }
}
