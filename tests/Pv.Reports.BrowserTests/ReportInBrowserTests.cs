// The A/B report and the counterexample page as a person sees them: written by the real `pv ab --report`, opened in
// headless Chromium through Playwright. Checks that each page loads with no console error and no script error, that
// the headline is the first thing shown, that the charts are there as SVG with axes (tick labels and axis titles
// drawn as text) and the numbers of each interval, that the all-metrics toggle opens, and that a violating seed's
// counterexample link leads to its page, timeline and highlighted violation. Saves screenshots of both pages in the
// test's output folder (docs/images/ab-report.png is one of them). Skipped, saying why, where chromium is missing.
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Pv.Cli;
using Pv.Testing;

namespace Pv.Reports.BrowserTests;

/// <summary>A test that needs Debian's chromium; skipped, with the way to install it, where it is absent.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>Debian's chromium, the browser Playwright drives here (it downloads none).</summary>
    public const string Chromium = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Chromium)) Skip = $"no browser at {Chromium}: install it with 'apt-get install -y chromium' (.ci/run does)";
    }
}

public sealed class ReportInBrowserTests
{
    private static readonly string Config = Path.Combine(Fixtures.RepoRoot, "plugins.json");

    /// <summary>Runs pv as a user would, in <paramref name="folder"/>.</summary>
    private static string Pv(string folder, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run([.. args, "--config", Config, "--db", Path.Combine(folder, "pv.db")], output, error, folder);
        Assert.True(exit is 0 or 1, $"pv {string.Join(' ', args)} exited {exit}: {error}");
        return output.ToString();
    }

    [ChromiumFact]
    public async Task The_report_renders_with_its_charts_axes_and_links_and_no_errors()
    {
        string folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "pv-browser-tests", Guid.NewGuid().ToString("N"))).FullName;
        string clean = Path.Combine(folder, "ab-report.html"), violating = Path.Combine(folder, "z1.html");
        Pv(folder, "ab", Path.Combine(Fixtures.RepoRoot, "scenarios", "workload-munmap-heavy.pvl"), "--a", "x86-native", "--b", "xen-pv", "--seeds", "5", "--schedules", "10", "--report", clean);
        Pv(folder, "ab", Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap.pvl"), "--a", "xen-pv-2012", "--b", "xen-pv", "--seeds", "3", "--schedules", "20", "--report", violating);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = ChromiumFactAttribute.Chromium, Headless = true });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1150, Height = 900 } });
        var problems = new List<string>();
        page.Console += (_, m) => { if (m.Type is "error" or "warning") problems.Add($"console {m.Type}: {m.Text}"); };
        page.PageError += (_, e) => problems.Add($"page error: {e}");
        page.RequestFailed += (_, r) => problems.Add($"request failed: {r.Url}");

        await page.GotoAsync(new Uri(clean).AbsoluteUri);
        // The headline: verdicts and the cost, before anything else on the page.
        string headline = await page.Locator("p.headline").InnerTextAsync();
        Assert.Matches(@"^Both clean \(5 seeds each\)\. Simulated time B/A \d\.\d\d \[\d\.\d\d–\d\.\d\d\]: B is \d+% cheaper\.$", headline);
        Assert.True(await page.Locator("p.headline").IsVisibleAsync());

        // Two charts, each an SVG with its axes: tick labels and axis titles are text in it, the plot has a size.
        var charts = page.Locator("svg.chart");
        Assert.Equal(2, await charts.CountAsync());
        string ratio = await charts.Nth(0).TextContentAsync() ?? "";
        Assert.Contains("B/A (ratio of means per run", ratio);
        Assert.Contains("time.simulated_ns", ratio);
        Assert.Matches(@"0\.\d\d \[0\.\d\d–0\.\d\d\]", ratio);
        string seeds = await charts.Nth(1).TextContentAsync() ?? "";
        Assert.Contains("simulated ns per run", seeds);
        Assert.Contains("seed", seeds);
        foreach (int i in new[] { 0, 1 })
        {
            var box = await charts.Nth(i).BoundingBoxAsync();
            Assert.True(box is { Width: > 500, Height: > 150 }, $"chart {i} is {box?.Width}x{box?.Height}");
            Assert.True(await charts.Nth(i).Locator("text").CountAsync() > 8, $"chart {i} has no tick labels");
        }
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "ab-report.png"), FullPage = true });

        // Every metric is behind the toggle: hidden, then shown when opened.
        var all = page.Locator("#metrics-all");
        Assert.False(await all.IsVisibleAsync());
        await page.Locator("details > summary").ClickAsync();
        Assert.True(await all.IsVisibleAsync());
        Assert.True(await all.Locator("tr").CountAsync() > await page.Locator("#metrics-differing tr").CountAsync());

        // A violating seed links its counterexample's page: the timeline, a column per thread, the violation highlighted.
        await page.GotoAsync(new Uri(violating).AbsoluteUri);
        Assert.Equal(3, await page.Locator("#seeds a.cx").CountAsync());
        await page.Locator("#seeds a.cx").First.ClickAsync();
        await page.WaitForURLAsync(new Regex(@"z1\.cx/A-seed0\.cx\.html$"));
        Assert.StartsWith("O2 at step", await page.Locator("#violation").InnerTextAsync());
        Assert.Equal(["step", "unmapper", "walker"], await page.Locator("#timeline thead th").AllInnerTextsAsync());
        var row = page.Locator("#timeline tr.violation");
        Assert.Equal(1, await row.CountAsync());
        Assert.Contains("VIOLATION invariant=O2", await row.InnerTextAsync());
        Assert.Equal("rgb(253, 232, 232)", await row.Locator("td").First.EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor"));
        Assert.StartsWith("pv replay ", await page.Locator("#replay").InnerTextAsync());
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "counterexample.png"), FullPage = true });

        Assert.Empty(problems);
    }
}
