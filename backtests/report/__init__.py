"""What a run leaves behind: metrics, charts, the self-contained HTML report, the run folder and run comparison."""
