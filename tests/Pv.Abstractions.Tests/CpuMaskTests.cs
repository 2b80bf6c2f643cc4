// struct cpumask semantics at the word boundaries (bits 0, 63, 64, 255): set, clear, weight, iteration
// order, cpumask_next and value equality.
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Tests;

public sealed class CpuMaskTests
{
    private static readonly int[] Edges = [0, 63, 64, 255];

    private static CpuMask Of(params int[] cpus)
    {
        var mask = new CpuMask();
        foreach (int cpu in cpus) mask.Set(cpu);
        return mask;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(255)]
    public void Set_and_clear_one_cpu(int cpu)
    {
        var mask = CpuMask.Of(cpu);
        Assert.True(mask.Contains(cpu));
        Assert.Equal(1, mask.Count);
        Assert.False(mask.IsEmpty);
        Assert.All(Edges.Where(e => e != cpu), other => Assert.False(mask.Contains(other)));
        mask.Clear(cpu);
        Assert.True(mask.IsEmpty);
        Assert.Equal(CpuMask.Empty, mask);
    }

    [Fact]
    public void Count_and_enumeration_span_all_words_in_ascending_order()
    {
        var mask = Of(255, 64, 0, 63);
        Assert.Equal(4, mask.Count);
        var seen = new List<int>();
        foreach (int cpu in mask) seen.Add(cpu);
        Assert.Equal(Edges, seen);
        Assert.Equal("{0,63,64,255}", mask.ToString());
    }

    [Fact]
    public void Next_finds_the_lowest_cpu_at_or_above()
    {
        var mask = Of(0, 63, 64, 255);
        Assert.Equal(0, mask.Next(0));
        Assert.Equal(63, mask.Next(1));
        Assert.Equal(63, mask.Next(63));
        Assert.Equal(64, mask.Next(64));
        Assert.Equal(255, mask.Next(65));
        Assert.Equal(255, mask.Next(255));
        Assert.Equal(-1, CpuMask.Of(63).Next(64));
        Assert.Equal(-1, CpuMask.Empty.Next(0));
    }

    [Fact]
    public void Equality_is_by_value()
    {
        Assert.Equal(Of(0, 64), Of(64, 0));
        Assert.True(Of(0, 64) == Of(64, 0));
        Assert.True(Of(0, 64) != Of(0, 63));
        Assert.NotEqual(Of(255), Of(254));
        Assert.Equal(Of(0, 255).GetHashCode(), Of(255, 0).GetHashCode());
        Assert.False(Of(0).Equals((object)"cpu0"));
    }

    [Fact]
    public void Without_leaves_the_original_unchanged()
    {
        var mask = Of(0, 64);
        var rest = mask.Without(64);
        Assert.Equal(Of(0), rest);
        Assert.Equal(Of(0, 64), mask);
    }

    [Fact]
    public void FirstN_is_the_online_mask()
    {
        Assert.Equal(0, CpuMask.FirstN(0).Count);
        var all = CpuMask.FirstN(CpuMask.MaxCpus);
        Assert.Equal(256, all.Count);
        Assert.True(all.Contains(255));
        var firstWordAndOne = CpuMask.FirstN(65);
        Assert.True(firstWordAndOne.Contains(64));
        Assert.False(firstWordAndOne.Contains(65));
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuMask.FirstN(257));
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuMask.FirstN(-1));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(256)]
    public void Cpu_out_of_range_is_refused(int cpu)
    {
        var mask = new CpuMask();
        Assert.Throws<ArgumentOutOfRangeException>(() => mask.Set(cpu));
        Assert.Throws<ArgumentOutOfRangeException>(() => mask.Contains(cpu));
    }
}
