import { render, screen } from "@testing-library/react";
import { RowsChart } from "./RowsChart";

describe("RowsChart", () => {
  it("explains itself until two samples exist", () => {
    render(<RowsChart samples={[{ t: 0, rows: 1, backlog: 0 }]} />);
    expect(screen.getByRole("status")).toHaveTextContent("The chart fills in");
    expect(screen.queryByRole("img")).not.toBeInTheDocument();
  });

  it("draws one point per sample, oldest on the left, more rows higher", () => {
    const samples = [
      { t: 0, rows: 100, backlog: 0 },
      { t: 60_000, rows: 150, backlog: 0 },
      { t: 120_000, rows: 200, backlog: 0 },
    ];
    render(<RowsChart samples={samples} />);
    const chart = screen.getByRole("img", { name: "Stored rows over the last 2 minutes: from 100 to 200" });
    const points = chart
      .querySelector("polyline")!
      .getAttribute("points")!
      .split(" ")
      .map((p) => p.split(",").map(Number));
    expect(points.map(([x]) => x)).toEqual([0, 150, 300]);
    const ys = points.map(([, y]) => y!);
    expect(ys[0]).toBeGreaterThan(ys[1]!);
    expect(ys[1]).toBeGreaterThan(ys[2]!);
  });

  it("draws a flat series mid-height", () => {
    render(
      <RowsChart
        samples={[
          { t: 0, rows: 5, backlog: 0 },
          { t: 1000, rows: 5, backlog: 0 },
        ]}
      />,
    );
    expect(screen.getByRole("img").querySelector("polyline")!.getAttribute("points")).toBe("0.0,40.0 300.0,40.0");
  });
});
