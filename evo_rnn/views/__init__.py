"""What a run looks like from outside: the HTML report and the export of its best cells."""
