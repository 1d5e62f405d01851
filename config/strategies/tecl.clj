;; TECL For The Long Term v7: alchemiser's own rendition of the decision tree in docs/strategies.md
;; (SPY above/below its 200-day average picks the regime; overbought -> UVXY/BIL hedges; the KMLM switcher holds
;; TECL when tech momentum beats KMLM's). Rebalanced daily.
(defsymphony
 "TECL For The Long Term v7"
 {:asset-class "EQUITIES", :rebalance-frequency :daily}
 (group
  "TECL"
  [(if
    (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
    [(group
      "Bull"
      [(if
        (> (rsi "TQQQ" {:window 10}) 79)
        [(weight-specified 0.25 (asset "UVXY" nil) 0.75 (asset "BIL" nil))]
        [(if
          (> (rsi "SPY" {:window 10}) 80)
          [(weight-specified 0.25 (asset "UVXY" nil) 0.75 (asset "BIL" nil))]
          [(group
            "Switcher (bull)"
            [(if
              (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
              [(if (> (rsi "XLK" {:window 10}) 81) [(asset "BIL" nil)] [(asset "TECL" nil)])]
              [(if (< (rsi "XLK" {:window 10}) 29) [(asset "TECL" nil)] [(asset "BIL" nil)])])])])])])]
    [(group
      "Bear"
      [(if
        (< (rsi "TQQQ" {:window 10}) 31)
        [(asset "TECL" nil)]
        [(if
          (< (rsi "SPXL" {:window 10}) 29)
          [(asset "SPXL" nil)]
          [(if
            (> (rsi "UVXY" {:window 10}) 74)
            [(if
              (> (rsi "UVXY" {:window 10}) 84)
              [(weight-specified 0.15 (asset "UVXY" nil) 0.85 (asset "BIL" nil))]
              [(asset "BIL" nil)])]
            [(group
              "Switcher (bear)"
              [(if
                (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                [(if (> (rsi "XLK" {:window 10}) 81) [(asset "BIL" nil)] [(asset "TECL" nil)])]
                [(if
                  (< (rsi "XLK" {:window 10}) 29)
                  [(asset "TECL" nil)]
                  [(filter
                    (rsi {:window 9})
                    (select-top 1)
                    [(asset "SQQQ" nil)
                     (asset "BSV" nil)])])])])])])])])])]))
