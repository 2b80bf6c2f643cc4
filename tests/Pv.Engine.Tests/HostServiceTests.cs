using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests;

public class HostServiceTests
{
    [Fact]
    public void Host_mappings_split_on_munmap_and_mprotect_and_count_syscalls_and_round_trips()
    {
        var t = new TestMachine();
        var hm = t.M.HostMappings;
        var mm = t.Mm.Id;
        Assert.Equal(0, hm.Mmap(mm, 0x10000, 0x4000, HostProt.Read | HostProt.Write, 0x100000));
        Assert.Equal(0, hm.Munmap(mm, 0x11000, 0x1000));
        Assert.Equal(0, hm.Mprotect(mm, 0x12000, 0x1000, HostProt.Read));
        hm.FlushStub(mm);
        hm.FlushStub(mm); // nothing queued: no round trip
        Assert.Equal(
            [new HostMapping(0x10000, 0x1000, HostProt.Read | HostProt.Write, 0x100000),
             new HostMapping(0x12000, 0x1000, HostProt.Read, 0x102000),
             new HostMapping(0x13000, 0x1000, HostProt.Read | HostProt.Write, 0x103000)],
            hm.Of(mm));
        Assert.False(hm.TryLookup(mm, 0x11800, out _));
        Assert.Equal(3, t.M.Metrics.Counter("host.syscall").Value);
        Assert.Equal(1, t.M.Metrics.Counter("host.stub_roundtrip").Value);
        hm.MaxMappings = 3;
        Assert.Equal(-12, hm.Mmap(mm, 0x20000, 0x1000, HostProt.Read, 0));
    }

    private sealed class Recorder : IMmuNotifier, IMmuIntervalNotifierOps
    {
        public List<string> Calls { get; } = [];
        public int InvalidateRangeStart(in MmuNotifierRange range) { Calls.Add($"start {range.Event}"); return 0; }
        public void InvalidateRangeEnd(in MmuNotifierRange range) => Calls.Add($"end {range.Event}");
        public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end) => Calls.Add($"secondary {start:x}-{end:x}");
        public void Release(MmId mm) => Calls.Add("release");
        public bool ClearFlushYoung(MmId mm, ulong start, ulong end) { Calls.Add("clear_flush_young"); return true; }
        public bool TestYoung(MmId mm, ulong address) => address == 0x1000;
        public IMmuNotifierRegistry? Registry { get; set; }
        public bool Invalidate(MmuIntervalNotifier sub, in MmuNotifierRange range, ulong seq)
        {
            Calls.Add($"interval seq {seq}");
            Registry!.IntervalSetSeq(sub, seq);
            return true;
        }
    }

    [Fact]
    public void Notifier_pairs_and_interval_sequence_follow_the_kernel_protocol()
    {
        var t = new TestMachine();
        var reg = t.M.Notifiers;
        var rec = new Recorder { Registry = reg };
        reg.Register(t.Mm.Id, rec);
        var sub = reg.IntervalInsert(t.Mm.Id, 0x1000, 0x1000, rec);
        ulong seq = reg.IntervalReadBegin(sub)!.Value;
        var range = new MmuNotifierRange(t.Mm.Id, 0, 0x10000, MmuNotifierEvent.Unmap);
        reg.InvalidateRangeStart(range);
        Assert.True(reg.InvalidationActive(t.Mm.Id, 0x1000));
        Assert.True(reg.IntervalReadRetry(sub, seq)); // the driver must retry
        reg.InvalidateRangeEnd(range);
        Assert.False(reg.InvalidationActive(t.Mm.Id, 0x1000));
        ulong seq2 = reg.IntervalReadBegin(sub)!.Value;
        Assert.False(reg.IntervalReadRetry(sub, seq2));
        reg.ArchInvalidateSecondaryTlbs(t.Mm.Id, 0x1000, 0x2000);
        Assert.Equal(["interval seq 1", "start Unmap", "end Unmap", "secondary 1000-2000"], rec.Calls);
    }

    [Fact]
    public void Young_queries_reach_every_subscriber_and_or_their_answers()
    {
        var t = new TestMachine();
        var reg = t.M.Notifiers;
        var a = new Recorder();
        reg.Register(t.Mm.Id, new Recorder());
        reg.Register(t.Mm.Id, a);
        Assert.True(reg.ClearFlushYoung(t.Mm.Id, 0, 0x2000));
        Assert.Equal(["clear_flush_young"], a.Calls);
        Assert.False(reg.ClearYoung(t.Mm.Id, 0, 0x2000)); // the default: not young
        Assert.True(reg.TestYoung(t.Mm.Id, 0x1000));
        Assert.False(reg.TestYoung(t.Mm.Id, 0x3000));
    }

    [Fact]
    public void Read_begin_during_an_invalidation_blocks_the_driver_until_it_ends()
    {
        var t = new TestMachine();
        var reg = t.M.Notifiers;
        var rec = new Recorder { Registry = reg };
        var sub = reg.IntervalInsert(t.Mm.Id, 0, 0x1000, rec);
        var range = new MmuNotifierRange(t.Mm.Id, 0, 0x1000, MmuNotifierEvent.Clear);
        ulong? got = null;
        var log = new List<string>();
        t.Thread("invalidator", 0, _ => Invalidate());
        t.Thread("driver", 1, _ => Driver());
        IEnumerable<Step> Invalidate()
        {
            reg.InvalidateRangeStart(range);
            yield return Step.Yield;
            yield return Step.Yield;
            log.Add("end");
            reg.InvalidateRangeEnd(range);
            yield return Step.Yield;
        }
        IEnumerable<Step> Driver()
        {
            while ((got = reg.IntervalReadBegin(sub)) is null) yield return Step.Yield;
            log.Add("read_begin");
            yield return Step.Yield;
        }
        t.M.Run(new PreferPolicy(1, firstSteps: 1));
        Assert.Equal(["end", "read_begin"], log);
        Assert.Equal(1UL, got!.Value); // the sequence the finished invalidation recorded
    }

    [Fact]
    public void O7_an_end_without_a_start_is_a_protocol_violation()
    {
        var t = new TestMachine();
        t.Thread("bad", 0, _ => TestMachine.Do(() => t.M.Notifiers.InvalidateRangeEnd(new MmuNotifierRange(t.Mm.Id, 0, 0x1000, MmuNotifierEvent.Clear))));
        var r = t.RunSequential();
        Assert.Equal(InvariantId.O7, r.Report!.Violation.Id);
    }

    [Fact]
    public void O5_counts_only_faults_on_addresses_the_page_table_permits()
    {
        var t = new TestMachine();
        var (_, _) = t.Map(flags: TestMachine.UserRw);
        int k = t.M.Options.O5FaultLimit;
        for (int i = 0; i < 100; i++) Assert.True(t.M.Oracle.DeviceFault("dev0", 0, t.Mm.Id, TestMachine.Va + 0x10000, AccessKind.Write));
        for (int i = 0; i < k; i++) Assert.True(t.M.Oracle.DeviceFault("dev0", 0, t.Mm.Id, TestMachine.Va, AccessKind.Write));
        Assert.False(t.M.Oracle.DeviceFault("dev0", 0, t.Mm.Id, TestMachine.Va, AccessKind.Write));
        Assert.Equal(InvariantId.O5, t.M.Oracle.Violation!.Id);
    }
}
