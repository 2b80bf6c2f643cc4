using Pv.Abstractions.Memory;
using Pv.Engine.Memory;
using Pv.Engine.Metrics;

namespace Pv.Engine.Tests;

public class MemoryTests
{
    private static PhysicalMemory New() => new(new MachineMetrics());

    [Fact]
    public void Freed_frame_is_reused_first_with_a_new_generation()
    {
        var mem = New();
        var a = mem.Alloc(FrameKind.DataPage);
        var b = mem.Alloc(FrameKind.DataPage);
        uint genB = mem.GenerationOf(b);
        mem.Free(b);
        Assert.Equal(FrameKind.Free, mem.KindOf(b));
        var c = mem.Alloc(FrameKind.PageTable);
        Assert.Equal(b, c);
        Assert.NotEqual(genB, mem.GenerationOf(c));
        Assert.Equal(FrameKind.PageTable, mem.KindOf(c));
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Lifo_reuse_returns_the_most_recently_freed_frame()
    {
        var mem = New();
        var f = Enumerable.Range(0, 4).Select(_ => mem.Alloc(FrameKind.DataPage)).ToArray();
        mem.Free(f[1]);
        mem.Free(f[3]);
        Assert.Equal(f[3], mem.Alloc(FrameKind.DataPage));
        Assert.Equal(f[1], mem.Alloc(FrameKind.DataPage));
    }

    [Fact]
    public void Injected_failure_hits_only_its_site_and_count()
    {
        var metrics = new MachineMetrics();
        var mem = new PhysicalMemory(metrics);
        mem.InjectFailures(AllocSite.TableBatch, 1);
        Assert.True(mem.Alloc(AllocSite.DataPage, FrameKind.DataPage).IsValid);
        Assert.False(mem.Alloc(AllocSite.TableBatch, FrameKind.DataPage).IsValid);
        Assert.True(mem.Alloc(AllocSite.TableBatch, FrameKind.DataPage).IsValid);
        Assert.Equal(1, metrics.AllocFailures.Value);
    }

    [Fact]
    public void Double_free_is_an_error()
    {
        var mem = New();
        var a = mem.Alloc(FrameKind.DataPage);
        mem.Free(a);
        Assert.Throws<EngineBugException>(() => mem.Free(a));
    }

    [Fact]
    public void A_new_table_is_zeroed_even_when_the_frame_held_a_table_before()
    {
        var mem = New();
        var t = mem.Alloc(FrameKind.PageTable);
        mem.Entries(t)[7] = 0x1234;
        mem.Free(t);
        Assert.Equal(0x1234UL, mem.Entries(t)[7]); // a late walker still reads the old contents
        var t2 = mem.Alloc(FrameKind.PageTable);
        Assert.Equal(t, t2);
        Assert.Equal(0UL, mem.Entries(t2)[7]);
    }

    [Fact]
    public void Only_a_device_pfn_can_be_revoked()
    {
        var mem = New();
        var d = mem.Alloc(FrameKind.DevicePfn);
        mem.Revoke(d);
        Assert.Equal(FrameKind.RevokedDevicePfn, mem.KindOf(d));
        Assert.Throws<EngineBugException>(() => mem.Revoke(mem.Alloc(FrameKind.DataPage)));
    }
}
