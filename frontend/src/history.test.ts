import { addSample, storeRate } from "./history";

describe("history", () => {
  it("keeps only the samples inside the window", () => {
    let h = addSample([], { t: 0, rows: 0, backlog: 0 }, 1000);
    h = addSample(h, { t: 600, rows: 5, backlog: 0 }, 1000);
    h = addSample(h, { t: 1500, rows: 9, backlog: 0 }, 1000);
    expect(h.map((s) => s.t)).toEqual([600, 1500]);
  });

  it("drops samples from a clock that went backwards", () => {
    const h = addSample([{ t: 5000, rows: 1, backlog: 0 }], { t: 4000, rows: 2, backlog: 0 });
    expect(h).toEqual([{ t: 4000, rows: 2, backlog: 0 }]);
  });

  it("computes rows per second over the recent samples", () => {
    const h = [
      { t: 0, rows: 0, backlog: 0 },
      { t: 20_000, rows: 100, backlog: 0 },
      { t: 25_000, rows: 600, backlog: 0 },
      { t: 30_000, rows: 1100, backlog: 0 },
    ];
    // Only samples from the last 15 s count: (1100 - 100) / 10 s.
    expect(storeRate(h)).toBe(100);
  });

  it("has no rate before two samples, and never a negative one", () => {
    expect(storeRate([])).toBeUndefined();
    expect(storeRate([{ t: 0, rows: 1, backlog: 0 }])).toBeUndefined();
    expect(
      storeRate([
        { t: 0, rows: 10, backlog: 0 },
        { t: 1000, rows: 0, backlog: 0 },
      ]),
    ).toBe(0);
  });
});
