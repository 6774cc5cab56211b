"""One module per page; pages only lay out."""
